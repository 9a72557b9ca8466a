"""What the frozen-teacher cache saves: a 4-cell grid sharing one frozen CLIP image teacher.

Usage: ``python benchmarks/teacher_cache.py [--dataset syn_k400] [--videos 16] [--frames 8] [--cells 4]
[--weights random|synthetic:tiny-clip|<path>] [--arch vlbench-tiny-vit] [--threads 1]``

Each cell of an ablation grid that distils from the same frozen teacher (vlc's CLIP image
features, ftp's frozen encoders) needs the teacher's output for the same videos, frames and
preprocessing. This script runs that loop directly: for each of ``--cells`` cells it computes
the frozen CLIP image features of ``--videos`` synthetic videos (``--frames`` uniformly
sampled frames each, CLIP preprocessing), once without the cache (every cell pays) and once
through ``TeacherFeatureCache`` (the first cell fills it, the others read it), checks that
the cached features are bit-identical to freshly computed ones, and prints time per cell,
speed-up and disk use. Until the methods opt in with ``teacher_cache=True`` this built-in
loop stands in for ``bench run`` on a real grid. The cache goes to a temporary directory,
removed at the end (``--cache-root DIR`` keeps it). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.models.cache import TeacherFeatureCache, cache_info, file_sha256, state_dict_hash

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def sample_frames(path: Path, n: int) -> tuple[np.ndarray, list[int]]:
    """``n`` frames at the centres of equal segments (test-mode sampling: deterministic)."""
    import decord

    vr = decord.VideoReader(str(path), num_threads=1)
    inds = [min(len(vr) - 1, int((i + 0.5) * len(vr) / n)) for i in range(n)]
    return vr.get_batch(inds).asnumpy(), inds


def preprocess(frames: np.ndarray, size: int) -> torch.Tensor:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="syn_k400")
    ap.add_argument("--split", default="train")
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--arch", default="vlbench-tiny-vit")
    ap.add_argument("--weights", default="random", help="random, synthetic:tiny-clip, or a local checkpoint path")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-root", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from bench.data.catalog import get_dataset, read_annotation_list
    from bench.models.clip import create_clip, resolve_weights

    info = get_dataset(args.dataset)
    videos = [info.video_root / p for p, _ in read_annotation_list(info.split_file(args.split))][: args.videos]
    torch.manual_seed(0)  # a random-init teacher is still one fixed function
    model = create_clip(args.arch, None if args.weights == "random" else args.weights).eval()
    path = resolve_weights(None if args.weights == "random" else args.weights)
    weights_hash = file_sha256(path) if path else state_dict_hash(model)
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else int(size)
    prep = {"resize": size, "mean": CLIP_MEAN, "std": CLIP_STD, "interp": "bilinear"}

    def teacher(video: Path) -> tuple[torch.Tensor, list[int]]:
        frames, inds = sample_frames(video, args.frames)
        with torch.no_grad():
            return model.encode_image(preprocess(frames, size)), inds

    root = args.cache_root or Path(tempfile.mkdtemp(prefix="teacher_cache_"))
    cache = TeacherFeatureCache(f"open_clip:{args.arch}/visual", weights_hash, root=root / "teacher")
    rows, reference = [], {}
    for cell in range(args.cells):
        t0 = time.perf_counter()
        for v in videos:
            reference[v] = teacher(v)[0]
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        identical = True
        for v in videos:
            sampling = {"num_frames": args.frames, "mode": "uniform-centre", "test_mode": True}
            feats = cache.get_or_compute(v, lambda v=v: teacher(v)[0], sampling, prep)
            identical &= torch.equal(feats, reference[v])
        rows.append((cell, t_plain, time.perf_counter() - t0, identical))

    disk = sum(r["bytes"] for r in cache_info(root))
    print(f"{len(videos)} videos x {args.frames} frames, teacher {args.arch} ({args.weights}), "
          f"{args.threads} thread(s); cache at {root}")
    print(f"{'cell':>4} {'no cache (s)':>13} {'cache (s)':>10} {'speed-up':>9}  bit-identical")
    for cell, tp, tc, same in rows:
        print(f"{cell:>4} {tp:>13.3f} {tc:>10.3f} {tp / tc:>8.1f}x  {same}")
    total_plain, total_cache = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"grid total: {total_plain:.3f}s without, {total_cache:.3f}s with the cache "
          f"({total_plain / total_cache:.1f}x); hits {cache.store.hits}, misses {cache.store.misses}, "
          f"disk {disk / 1024:.1f} KiB")
    if args.cache_root is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
