"""Few-shot epoch lengths under each ``fewshot.repeat`` and view frame indices under each ``sampling``.

Usage: ``python benchmarks/protocol_plans.py``. Plans the shipped UCF-101 / HMDB-51 K-shot
episodes (no video is read) and prints, per dataset and K, how many times an epoch repeats the
K-shot list and the epoch length in videos; then the test frames of one 100-frame video, 8 frames,
1 and 3 clips, under each sampling.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def main() -> int:
    import os

    os.environ.setdefault("BENCH_WORK_DIR", tempfile.mkdtemp(prefix="vlbench-plans-"))
    from mmaction.registry import TRANSFORMS

    import bench.identity  # noqa: F401 - registers how a RunSpec resolves (bench.spec)
    import protocols  # noqa: F401
    from bench.data.catalog import LABELS_DIR, DatasetInfo, read_label_csv
    from bench.method import get_method
    from bench.spec import RunSpec
    from protocols import engine
    from protocols.base import build_protocol

    for dataset in ("ucf101", "hmdb51"):
        ds = DatasetInfo(dataset, read_label_csv(LABELS_DIR / f"{dataset}.csv"), Path(tempfile.mkdtemp()), {},
                         source="plan only")
        for k in (2, 4, 8, 16):
            cells = []
            for repeat in ("ceil", "floor", "none"):
                args = {"shots": k, "repeat": repeat}
                spec = RunSpec("clip_meanpool", "fewshot", dataset, protocol_args=args)
                (ep,) = build_protocol("fewshot", args).plan(spec, get_method("clip_meanpool"), ds)
                cells.append(f"{repeat}: x{ep.params['repeat']} = {ep.params['epoch_length']}")
            print(f"{dataset} {k:>2}-shot (train split 1: {ep.params['full_train_size']} videos)  " + "; ".join(cells))
    pipe = [dict(type="UniformSample", clip_len=8, num_clips=1, test_mode=True), dict(type="CenterCrop", crop_size=8)]
    for clips in (1, 3):
        for sampling in ("centre", "start", "random"):
            step = TRANSFORMS.build(engine._set_views(pipe, clips, 1, sampling=sampling, seed=0)[0])
            inds = step.transform({"total_frames": 100, "start_index": 0, "filename": "v.avi"})["frame_inds"]
            print(f"100 frames, 8x{clips} clips, sampling {sampling:>6}: {inds.tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
