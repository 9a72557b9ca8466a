"""Checkpoint loading rules.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the pickled objects
(message hub, numpy scalars) that MMEngine puts in its own checkpoints; MMEngine 0.10 calls
``torch.load`` without the argument. A run may trust the checkpoints it wrote itself, so
``trusted_resume(work_dir)`` allows full unpickling only for files inside that run directory,
and only while the block runs. Every other file keeps torch's ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import torch


@contextlib.contextmanager
def trusted_resume(work_dir: Path) -> Iterator[None]:
    """Within the block, ``torch.load`` of a file under ``work_dir`` may unpickle MMEngine objects."""
    root = Path(work_dir).resolve()
    original = torch.load

    @functools.wraps(original)
    def load(f, *args, **kwargs):
        if isinstance(f, str | Path) and "weights_only" not in kwargs and Path(f).resolve().is_relative_to(root):
            kwargs["weights_only"] = False
        return original(f, *args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original
