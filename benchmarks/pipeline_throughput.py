"""Training-pipeline throughput: clips per second per dataloader worker, harness vs MMAction2 vs raw decord.

Usage: ``python benchmarks/pipeline_throughput.py [--videos 4] [--clips 24] [--frames 8 32] [--method clip_meanpool]``

Videos: 340x256, 10 s at 30 fps (300 frames), H.264 written by the synthetic world's encoder
(``bench.data.synthetic.video_io.write_mp4``: libx264, crf 18, veryfast, no B-frames), content
rendered by the world (moving shapes on a textured scene), into a temporary folder.

Measured, each with ONE worker process (``num_workers=1``), after warm-up batches (the first and the
prefetched ones, so that the worker's steady rate is timed):

* harness: the job's loader: the method's real-size ``train_dataloader`` (``CheckedVideoDataset``,
  its ``train_pipeline``: decord, uniform sampling, resize, random-resized crop, flip, format) built
  by ``Runner.build_dataloader`` as ``protocols.engine`` builds it, with the frames set per run;
* mmaction2: the same pipeline through MMAction2's plain ``VideoDataset`` and a torch DataLoader
  with MMEngine's ``pseudo_collate``, one worker, nothing of ours;
* decord: raw ``VideoReader.get_batch`` of the same number of uniformly spaced frames per clip
  (decode only: no resize, crop or tensor packing), in one process.

Prints clips/s per worker for each, by the wall clock and per CPU-second of the worker process
(``/proc``; the figure that holds on a loaded machine: a worker owns one core on the cluster), the
harness/mmaction2 ratio (target >= 0.9), and how many workers a GPU needs to feed ``--step-rate``
clips/s with 1.5x headroom, when a step rate is given. The feeding target (the config's workers per
GPU x the per-worker rate >= 1.5 x the GPU's training step rate) is bounded by CPU decoding: raw decord
of the same frames is the ceiling of any pipeline, and one worker decodes a few clips per CPU-second.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def make_videos(root: Path, n: int, width: int = 340, height: int = 256, seconds: int = 10, fps: int = 30) -> list:
    from bench.data.synthetic import render, world
    from bench.data.synthetic.video_io import write_mp4

    root.mkdir(parents=True, exist_ok=True)
    specs = world.all_combinations()
    names = []
    for i in range(n):
        clip = render.sample_clip(specs[(i * 7) % len(specs)], np.random.default_rng(i), seconds * fps, 0.0)
        square = render.render_clip(clip, height)  # the world's frames, square, widened by reflection
        pad = width - height
        frames = np.pad(square, ((0, 0), (0, 0), (pad // 2, pad - pad // 2), (0, 0)), mode="reflect")
        path = root / f"v{i}.mp4"
        write_mp4(path, frames, fps=fps)
        names.append(path.name)
    # each video listed 32 times: an epoch outlasts a measurement (a new epoch restarts no worker anyway:
    # the loaders keep them, persistent_workers)
    (root / "list.txt").write_text("".join(f"{name} {i % 2}\n" for _ in range(32) for i, name in enumerate(names)))
    return names


def _pipeline(method: str, frames: int) -> tuple[list, dict]:
    from bench.method import get_method, load_config

    cfg = load_config(method, next(s for s in get_method(method).sizes if s != "tiny"))
    pipeline = [dict(step, clip_len=frames) if "clip_len" in step else dict(step) for step in cfg.train_pipeline]
    return pipeline, cfg.train_dataloader.to_dict() if hasattr(cfg.train_dataloader, "to_dict") else dict(
        cfg.train_dataloader)


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of processes (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _rate(loader, clips: int, batch: int) -> tuple[float, float]:
    """(clips per wall second, clips per CPU second of the worker) in steady state."""
    it = iter(loader)
    for _ in range(1 + (loader.prefetch_factor or 0)):  # warm-up: worker start, then drain what it prefetched
        next(it)
    pids = [w.pid for w in it._workers]
    n, t0, c0 = 0, time.perf_counter(), _cpu_s(pids)
    while n < clips:
        next(it)
        n += batch
    return n / (time.perf_counter() - t0), n / max(_cpu_s(pids) - c0, 1e-9)


def harness_rate(root: Path, method: str, frames: int, clips: int, batch: int) -> float:
    from mmaction.utils import register_all_modules
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import bench.data.mm  # noqa: F401  (CheckedVideoDataset)

    register_all_modules()
    init_default_scope("mmaction")
    pipeline, loader = _pipeline(method, frames)
    loader = copy.deepcopy(loader)
    loader.update(batch_size=batch, num_workers=1, persistent_workers=True)
    loader["sampler"] = dict(type="DefaultSampler", shuffle=True)
    loader["dataset"].update(type="CheckedVideoDataset", ann_file=str(root / "list.txt"),
                             data_prefix=dict(video=str(root)), pipeline=pipeline)
    return _rate(Runner.build_dataloader(loader, seed=0), clips, batch)


def mmaction_rate(root: Path, method: str, frames: int, clips: int, batch: int) -> float:
    import torch
    from mmaction.datasets import VideoDataset
    from mmaction.utils import register_all_modules
    from mmengine.dataset import pseudo_collate

    register_all_modules()
    pipeline, _ = _pipeline(method, frames)
    ds = VideoDataset(ann_file=str(root / "list.txt"), data_prefix=dict(video=str(root)), pipeline=pipeline)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=1,
                                         collate_fn=pseudo_collate, generator=torch.Generator().manual_seed(0))
    return _rate(loader, clips, batch)


def decord_rate(root: Path, frames: int, clips: int) -> tuple[float, float]:
    import decord

    files = sorted(root.glob("*.mp4"))
    rng = np.random.default_rng(0)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < clips:
        vr = decord.VideoReader(str(files[n % len(files)]), num_threads=1)
        total = len(vr)
        seg = total / frames
        idx = (np.arange(frames) * seg + rng.uniform(0, seg, frames)).astype(int).clip(0, total - 1)
        vr.get_batch(list(idx)).asnumpy()
        n += 1
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--clips", type=int, default=32, help="clips timed per measurement (after the warm-up batches)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--method", default="clip_meanpool", help="whose real-size train pipeline and loader to use")
    ap.add_argument("--step-rate", type=float, nargs="*", default=[],
                    help="measured GPU training clips/s (per frames value) to size the workers")
    ap.add_argument("--root", help="folder for the videos (default: a temporary folder)")
    args = ap.parse_args(argv)
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="vlb-pipeline-"))
    t0 = time.perf_counter()
    if not (root / "list.txt").exists():
        make_videos(root, args.videos)
    n = len(list(root.glob("*.mp4")))
    print(f"videos: {n} x 340x256, 10 s, 30 fps, H.264 in {root} ({time.perf_counter() - t0:.1f} s to write); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    out = {}
    for i, frames in enumerate(args.frames):
        (h, hc), (m, mc), (d, dc) = (harness_rate(root, args.method, frames, args.clips, args.batch),
                                     mmaction_rate(root, args.method, frames, args.clips, args.batch),
                                     decord_rate(root, frames, args.clips))
        out[frames] = {"harness": h, "mmaction2": m, "decord": d, "harness_cpu": hc, "mmaction2_cpu": mc,
                       "decord_cpu": dc, "ratio_cpu": hc / mc}
        print(f"{frames}x224 clips/s per worker, wall: harness {h:.2f}   mmaction2 VideoDataset {m:.2f}   "
              f"raw decord {d:.2f}")
        print(f"{frames}x224 clips per CPU-second of the worker: harness {hc:.2f}   mmaction2 VideoDataset {mc:.2f}   "
              f"raw decord {dc:.2f}   harness/mmaction2 {hc / mc:.3f} (target >= 0.9)")
        # the feeding target: the config's workers per GPU x the per-worker rate >= 1.5 x the GPU's step rate
        workers = int(_pipeline(args.method, frames)[1].get("num_workers") or 0)
        print(f"  {workers} workers per GPU (the real-size config's num_workers, one core each) feed about "
              f"{workers * hc:.0f} clips/s; raw decord alone would give {workers * dc:.0f} (decoding is "
              f"{hc / dc:.0%} of a clip's CPU time in the harness)")
        if i < len(args.step_rate):
            need = 1.5 * args.step_rate[i] / hc
            print(f"  workers per GPU for {args.step_rate[i]:.0f} clips/s x 1.5: {need:.1f} "
                  f"(feeding target {'met' if need <= workers else 'NOT met'} with {workers})")
        else:
            print(f"  feeding target (>= 1.5 x the GPU step rate): not decided here; give --step-rate from "
                  f"benchmarks/gpu_step.py. A GPU step rate above {workers * hc / 1.5:.0f} clips/s "
                  f"needs more cores per GPU, pre-decoded frames or GPU decoding: CPU H.264 decoding of "
                  f"{frames} frames per clip caps each worker near the raw decord figure")
    return out


if __name__ == "__main__":
    main()
