"""Build every part of the synthetic benchmark of one size, or verify what is already built.

A built part is checked against its manifest (sha256 per file); a damaged one is rebuilt. The
result lists, per part, its directory, whether it was built, verified or rebuilt, and the time.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
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


def prepare(size: str | None = None, parts: tuple[str, ...] = PARTS, verify: bool = True,
            report: Callable[[PartResult], None] | None = None) -> list[PartResult]:
    """Build (or verify) ``parts`` of ``size``; returns one PartResult per part, in order."""
    cfg = get_size(size)
    results = []
    for part in parts:
        root = storage.part_dir(cfg.name, part)
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
            _builder(part, cfg.name)()
        res = PartResult(part, root, status, round(time.time() - t0, 2))
        results.append(res)
        if report:
            report(res)
    return results


def status(size: str) -> dict[str, bool]:
    """Which parts of ``size`` are built (manifest present), without hashing anything."""
    return {p: storage.is_built(storage.part_dir(size, p)) for p in PARTS}
