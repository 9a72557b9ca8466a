"""The tiny CLIP renders its batches in a forked child (``tiny_clip.prefetched``): same batches, same order,
errors raised in the training process, the child stopped on close."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.data.synthetic import tiny_clip
from bench.data.synthetic.sizes import get_size


def _flatten(batch) -> list:
    out = []
    for item in batch:
        out += list(item) if isinstance(item, list) else [item]
    return out


def test_prefetched_batches_equal_the_ones_rendered_in_process(monkeypatch) -> None:
    monkeypatch.setattr(tiny_clip, "TOWER_STEPS", 2)  # 2 tower batches, then 2 contrastive ones
    cfg = get_size("tiny")
    statics = tiny_clip.training_statics(cfg)
    here = list(tiny_clip._batches(cfg, statics, np.random.default_rng([0, 51]), 2))
    child = tiny_clip.prefetched(tiny_clip._batches(cfg, statics, np.random.default_rng([0, 51]), 2))
    assert child._proc is not None, "fork is available on Linux: the batches must come from a child process"
    there = list(child)
    child._proc.join(5)
    assert child._proc.exitcode == 0  # the child ran its generator to the end
    assert len(here) == len(there) == 4
    assert len(here[0][0]) == 32 and len(here[2][0]) == cfg.clip_batch  # tower stacks, then frame pairs
    for a, b in zip(here, there, strict=True):
        for x, y in zip(_flatten(a), _flatten(b), strict=True):
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype == np.uint8 and np.array_equal(x, y)
            else:
                assert x == y


def _fails_at_third():
    yield 1
    yield 2
    raise ValueError("cannot render frame 3")


def test_an_error_in_the_child_is_raised_in_the_training_process() -> None:
    batches = tiny_clip.prefetched(_fails_at_third())
    assert next(batches) == 1 and next(batches) == 2
    with pytest.raises(RuntimeError, match="ValueError: cannot render frame 3"):
        next(batches)
    batches.close()


def test_close_stops_a_child_that_is_still_rendering() -> None:
    batches = tiny_clip.prefetched(itertools.count())
    assert [next(batches) for _ in range(3)] == [0, 1, 2]
    assert batches._proc.is_alive()  # blocked on a full queue, a few batches ahead
    batches.close()
    assert not batches._proc.is_alive()
