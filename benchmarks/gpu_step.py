"""Training step of each method at B/16 8x224 on one GPU, next to MMAction2's own UniFormerV2-B/16.

Usage: ``python benchmarks/gpu_step.py [--out gpu_step.json] [--steps 10] [--methods ...] [--peak-tflops P]``
       ``python benchmarks/gpu_step.py --tiny``  (CPU: the tiny configs on tiny input, for the test suite)

For clip_meanpool, ftp, bike, alt and vlc (their B/16 8-frame 224^2 configs; ``--tiny``: their tiny
configs) with random weights and a synthetic batch of the real shape (the config's per-GPU train batch
size, ``(3, T, H, W)`` clips, random labels) it runs the step MMEngine's train loop runs
(``model.train_step(batch, optim_wrapper)``, the optimiser wrapper built by MMEngine from the config:
``AmpOptimWrapper`` bf16 on a GPU, as the paper profile trains) and reports:

* step time (median over ``--steps`` after ``--warmup`` steps, synchronised);
* clips/s = batch / step time;
* peak memory (``torch.cuda.max_memory_allocated``; CPU: peak RSS);
* achieved TFLOP/s = records' FLOPs per clip (one view, ``bench.flops``) x 3 (forward + backward)
  x clips/s, and the fraction of the device's dense bf16 peak (``--peak-tflops``, else a table of
  known devices).

The reference is MMAction2's ``UniFormerV2`` B/16 recognizer (mmaction2 1.1.0's
uniformerv2-base-p16-res224 K400 config, random init) built by MMEngine and stepped the same way,
all of it trained; ftp trains only its prompt processors and head on a frozen UniFormerV2-B/16,
so its step is compared per trained parameter path (the ratio of the two steps is printed).

Methods whose real-size step needs artefacts the machine lacks (VLM text, description banks,
attribute lexicons) report the error instead of a figure. Writes the JSON of all figures to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch

B16 = {"clip_meanpool": "b16_8f", "ftp": "uniformerv2_b16_8x224", "bike": "b16_8f", "alt": "b16_8f",
       "vlc": "umt_b16_8f"}
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "H800": 989.4, "A100": 312.0, "L40S": 362.1, "A10": 125.0,
                    "V100": 125.0}
UNIFORMERV2_B16 = dict(  # mmaction2 1.1.0 uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb.py
    type="Recognizer3D",
    backbone=dict(type="UniFormerV2", input_resolution=224, patch_size=16, width=768, layers=12, heads=12, t_size=8,
                  dw_reduction=1.5, backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True,
                  double_lmhra=True, return_list=[8, 9, 10, 11], n_layers=4, n_dim=768, n_head=12, mlp_factor=4.0,
                  drop_path_rate=0.0, mlp_dropout=[0.5] * 4, clip_pretrained=False, pretrained=None),
    cls_head=dict(type="UniFormerHead", dropout_ratio=0.5, num_classes=400, in_channels=768, average_clips="prob"),
    data_preprocessor=dict(type="ActionDataPreprocessor", mean=[114.75] * 3, std=[57.375] * 3, format_shape="NCTHW"),
)
TINY_REFERENCE = dict(UNIFORMERV2_B16, backbone=dict(UNIFORMERV2_B16["backbone"], input_resolution=64, width=64,
                                                     layers=2, heads=2, return_list=[0, 1], n_layers=2, n_dim=64,
                                                     n_head=2, t_size=4),
                      cls_head=dict(UNIFORMERV2_B16["cls_head"], in_channels=64, num_classes=10))


def device_peak(device: torch.device, given: float | None) -> float | None:
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def _batch(n: int, shape: tuple[int, ...], classes: int, device: torch.device) -> dict[str, Any]:
    from mmaction.structures import ActionDataSample

    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (1, *shape), generator=g, dtype=torch.uint8).float() for _ in range(n)]
    samples = []
    for i in range(n):
        ds = ActionDataSample().set_gt_labels(int(torch.randint(0, classes, (1,), generator=g)))
        ds.set_metainfo({"filename": f"synthetic_{i}.mp4", "img_shape": shape[-2:]})
        samples.append(ds)
    return {"inputs": inputs, "data_samples": samples}


def _model_and_wrapper(model_cfg: dict, optim_cfg: dict, device: torch.device):
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    from bench.models.class_text import shape_only

    with shape_only():  # vocabularies a build would embed: zeros of their shape (the weights are random anyway)
        model = MODELS.build(model_cfg)
    model.to(device).train()
    optim_cfg = dict(optim_cfg)
    if device.type != "cuda":  # AmpOptimWrapper needs an accelerator; the CPU mode checks the path, not AMP
        optim_cfg.update(type="OptimWrapper")
        optim_cfg.pop("dtype", None)
    return model, build_optim_wrapper(model, optim_cfg)


def _flops_per_clip(model, shape: tuple[int, ...], text_modules=(), teacher_modules=()) -> float:
    from bench.flops import count_recognizer

    was = model.training
    with torch.no_grad():
        report = count_recognizer(model, shape, text_modules=text_modules, exclude_modules=teacher_modules)
    model.train(was)
    return report.gflops_per_view


def time_steps(model, wrapper, batch, steps: int, warmup: int, device: torch.device) -> dict[str, float]:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        model.train_step(batch, wrapper)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_step(batch, wrapper)
        sync()
        times.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)
    return {"step_s": statistics.median(times), "step_s_min": min(times), "peak_mem_gib": peak}


def trained_params_m(model) -> float:
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6


def measure_method(method: str, tiny: bool, device: torch.device, steps: int, warmup: int,
                   batch_size: int | None) -> dict[str, Any]:
    from bench.job_flops import _strip_weights
    from bench.method import get_method, load_config

    info = get_method(method)
    size = "tiny" if tiny else B16[method]
    cfg = load_config(method, size)
    model_cfg = cfg.model.to_dict()
    if not tiny:
        _strip_weights(model_cfg)
    if method == "bike":  # the Video branch (its first training stage): attributes need video files on disk
        model_cfg["cls_head"].setdefault("attributes", {})["enabled"] = False
        model_cfg["cls_head"]["train_branches"] = ["video"]
    frames = int(cfg.get("num_frames") or 8)
    size_px = int(cfg.get("img_size") or 224)
    shape = (3, frames, size_px, size_px)
    model, wrapper = _model_and_wrapper(model_cfg, cfg.optim_wrapper.to_dict(), device)
    n = batch_size or int(cfg.train_dataloader["batch_size"])
    classes = int(getattr(model.cls_head, "num_classes", 2) or 2)
    gflops = _flops_per_clip(model, shape, info.text_modules, info.teacher_modules)
    out = {"method": method, "size": size, "batch": n, "input": list(shape), "gflops_per_clip": gflops,
           "trained_params_m": trained_params_m(model), "optim_wrapper": type(wrapper).__name__}
    out.update(time_steps(model, wrapper, _batch(n, shape, classes, device), steps, warmup, device))
    return out


def measure_reference(tiny: bool, device: torch.device, steps: int, warmup: int, batch_size: int | None):
    cfg = TINY_REFERENCE if tiny else UNIFORMERV2_B16
    optim = dict(type="AmpOptimWrapper", dtype="bfloat16",
                 optimizer=dict(type="AdamW", lr=1e-5, betas=(0.9, 0.999), weight_decay=0.05))
    model, wrapper = _model_and_wrapper(json.loads(json.dumps(cfg)), optim, device)
    b = cfg["backbone"]
    shape = (3, b["t_size"], b["input_resolution"], b["input_resolution"])
    n = batch_size or (2 if tiny else 8)
    gflops = _flops_per_clip(model, shape)
    out = {"method": "mmaction2_uniformerv2_b16", "size": "tiny" if tiny else "b16_8x224", "batch": n,
           "input": list(shape), "gflops_per_clip": gflops, "trained_params_m": trained_params_m(model),
           "optim_wrapper": type(wrapper).__name__}
    out.update(time_steps(model, wrapper, _batch(n, shape, cfg["cls_head"]["num_classes"], device), steps, warmup,
                          device))
    return out


def finish(row: dict[str, Any], peak: float | None) -> dict[str, Any]:
    row["clips_per_s"] = row["batch"] / row["step_s"]
    row["achieved_tflops"] = row["gflops_per_clip"] * 3 * row["clips_per_s"] / 1e3
    row["fraction_of_bf16_peak"] = row["achieved_tflops"] / peak if peak else None
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CPU smoke mode: tiny configs, tiny input")
    ap.add_argument("--methods", nargs="+", default=list(B16))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, help="clips per step (default: the config's per-GPU train batch size)")
    ap.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak (default: known devices)")
    ap.add_argument("--out", default="gpu_step.json")
    args = ap.parse_args(argv)
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not args.tiny:
        raise SystemExit("no CUDA device: run on a GPU machine, or pass --tiny for the CPU smoke mode")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401

    register_all_modules()
    peak = device_peak(device, args.peak_tflops)
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for method in [*args.methods, "reference"]:
        t0 = time.perf_counter()
        try:
            row = (measure_reference(args.tiny, device, args.steps, args.warmup, args.batch) if method == "reference"
                   else measure_method(method, args.tiny, device, args.steps, args.warmup, args.batch))
            rows.append(finish(row, peak))
            print(f"{row['method']:>26}: step {row['step_s'] * 1e3:8.1f} ms  {row['clips_per_s']:8.1f} clips/s  "
                  f"peak {row['peak_mem_gib']:6.2f} GiB  {row['achieved_tflops']:7.2f} TFLOP/s"
                  + (f" ({100 * row['fraction_of_bf16_peak']:.1f} % of bf16 peak)" if peak else "")
                  + f"  [{row['optim_wrapper']}, batch {row['batch']}, {time.perf_counter() - t0:.0f} s]", flush=True)
        except Exception as e:  # noqa: BLE001 (one method's failure is reported, the others still run)
            rows.append({"method": method, "error": f"{type(e).__name__}: {e}"})
            print(f"{method:>26}: FAILED {type(e).__name__}: {e}", flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    by = {r["method"]: r for r in rows}
    ref, ftp = by.get("mmaction2_uniformerv2_b16", {}), by.get("ftp", {})
    ratio = ftp["step_s"] / ref["step_s"] if "step_s" in ftp and "step_s" in ref else None
    if ratio is not None:
        print(f"ftp step / MMAction2 UniFormerV2-B/16 step: {ratio:.3f} (ftp trains {ftp['trained_params_m']:.1f} M "
              f"of its parameters, the reference {ref['trained_params_m']:.1f} M)")
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "tiny": args.tiny, "peak_bf16_tflops": peak, "rows": rows,
              "ftp_over_reference_step": ratio, "wall_s": time.perf_counter() - t_start}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out} ({result['wall_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
