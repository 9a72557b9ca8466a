"""Build every part of the synthetic benchmark of one size, or verify what is already built.

A built part is checked against its manifest (sha256 per file); a damaged one is rebuilt. The
result lists, per part, its directory, whether it was built, verified or rebuilt, and the time.

Every part trains or renders on one thread (their bytes are fixed by the seed, not by the machine's
cores), so with ``jobs >= 2`` the tiny CLIP, the longest part and independent of the others until its
last step, is built in a second process while this one builds the datasets and the tiny video backbone.
The bytes are the same either way; only the order of the report changes (the tiny CLIP comes last).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.data.synthetic import SYNTHETIC_DATASETS, storage
from bench.data.synthetic.sizes import get_size

log = logging.getLogger(__name__)

PARTS = (*SYNTHETIC_DATASETS, "tiny_clip", "tiny_video")


@dataclasses.dataclass
class PartResult:
    part: str
    path: Path
    status: str  # built | verified | rebuilt
    seconds: float


def _builder(part: str, size: str) -> Callable[[], object]:
    if part == "tiny_clip":
        from bench.data.synthetic.tiny_clip import tiny_clip_weights

        return lambda: tiny_clip_weights(size)
    if part == "tiny_video":
        from bench.data.synthetic.video_pretrain import pretrained_weights

        return lambda: pretrained_weights(size)
    from bench.data.synthetic.datasets import ensure

    return lambda: ensure(part, size)


def _one(part: str, size: str, verify: bool) -> PartResult:
    """Verify ``part`` of ``size`` when built (rebuilding it when damaged), else build it."""
    root = storage.part_dir(size, part)
    t0 = time.time()
    status = "built"
    if storage.is_built(root):
        problems = storage.verify_manifest(root) if verify else []
        if problems:
            log.warning("%s is damaged (%d problems, first: %s); rebuilding", root, len(problems), problems[0])
            storage.rebuild(root)
            status = "rebuilt"
        else:
            status = "verified" if verify else "present"
    if status in ("built", "rebuilt"):
        _builder(part, size)()
    return PartResult(part, root, status, round(time.time() - t0, 2))


SIDE_PART = "tiny_clip"  # built beside the others with jobs >= 2


def prepare(size: str | None = None, parts: tuple[str, ...] = PARTS, verify: bool = True,
            report: Callable[[PartResult], None] | None = None, jobs: int = 1) -> list[PartResult]:
    """Build (or verify) ``parts`` of ``size``; returns one PartResult per part, in the order reported.

    ``jobs >= 2`` builds the tiny CLIP in a second process when it and another part still need building.
    """
    cfg = get_size(size)
    side = None
    order = list(parts)
    others = [p for p in parts if p != SIDE_PART]
    if (jobs >= 2 and SIDE_PART in parts and others and not storage.is_built(storage.part_dir(cfg.name, SIDE_PART))
            and not all(storage.is_built(storage.part_dir(cfg.name, p)) for p in others)):
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        side = pool.submit(_one, SIDE_PART, cfg.name, verify)
        order = [*others, SIDE_PART]
    results = []
    try:
        for part in order:
            res = side.result() if side is not None and part == SIDE_PART else _one(part, cfg.name, verify)
            results.append(res)
            if report:
                report(res)
    finally:
        if side is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def status(size: str) -> dict[str, bool]:
    """Which parts of ``size`` are built (manifest present), without hashing anything."""
    return {p: storage.is_built(storage.part_dir(size, p)) for p in PARTS}
