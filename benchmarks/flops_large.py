"""Time and peak memory of counting a large config: UniFormerV2-L/14 at 32x224 (or open_clip ViT-L/14).

Usage: ``python benchmarks/flops_large.py [--model uniformerv2|openclip] [--dtype float32|bfloat16] [--threads N]``

Random weights, nothing downloaded. Target: under 1 minute and 8 GB on a CPU. Figures to
compare with: UniFormerV2-L/14 32x224 is 16.0 TFLOPs over 2x3 views, i.e. ~2670 GFLOPs per
view, 354M parameters (FTP paper Table 1, from UniFormerV2); CLIP ViT-L/14 at 224 is ~81
GFLOPs per frame.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from bench.flops import count_flops, count_recognizer

UNIFORMERV2_L14_32 = dict(  # mmaction2 1.1.0 uniformerv2-large-p14-res224_clip-kinetics710-pre_u32_kinetics400-rgb.py
    type="Recognizer3D",
    backbone=dict(type="UniFormerV2", input_resolution=224, patch_size=14, width=1024, layers=24, heads=16, t_size=32,
                  dw_reduction=1.5, backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True,
                  double_lmhra=True, return_list=[20, 21, 22, 23], n_layers=4, n_dim=1024, n_head=16,
                  mlp_factor=4.0, drop_path_rate=0.0, mlp_dropout=[0.5] * 4, clip_pretrained=False, pretrained=None),
    cls_head=dict(type="TimeSformerHead", dropout_ratio=0.5, num_classes=400, in_channels=1024,
                  average_clips="prob"),
    data_preprocessor=dict(type="ActionDataPreprocessor", mean=[114.75] * 3, std=[57.375] * 3, format_shape="NCTHW"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("uniformerv2", "openclip"), default="uniformerv2")
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    t0 = time.perf_counter()
    if args.model == "uniformerv2":
        from mmaction.registry import MODELS
        from mmaction.utils import register_all_modules

        register_all_modules()
        model = MODELS.build(UNIFORMERV2_L14_32).to(dtype)
        t1 = time.perf_counter()
        report = count_recognizer(model, (3, 32, 224, 224), views="32x3x2")
    else:
        import open_clip

        model = open_clip.create_model("ViT-L-14", pretrained=None).visual.to(dtype)
        t1 = time.perf_counter()
        # 32 frames as a batch of 32 images: the per-view count of a frame-wise encoder.
        report = count_flops(model, (torch.zeros(32, 3, 224, 224, dtype=dtype),), views="32x3x4")
    t2 = time.perf_counter()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    print(f"model: {args.model} ({args.dtype}, {args.threads} thread(s))")
    print(f"GFLOPs per view: {report.gflops_per_view:.1f}  views {report.views}  total {report.gflops_total:.0f}")
    print(f"params: {report.params_m:.1f} M   uncounted ops: {report.uncounted_ops or 'none'}")
    print(f"build: {t1 - t0:.1f} s   count: {t2 - t1:.1f} s   peak RSS: {rss_gb:.2f} GB")


if __name__ == "__main__":
    main()
