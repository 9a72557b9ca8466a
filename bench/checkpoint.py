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


# -- checkpoints that torch.load(weights_only=True) accepts ---------------------------------------------------
# MMEngine's checkpoint holds, besides tensors, the message hub's ``HistoryBuffer`` objects and numpy arrays
# and scalars. Loading those needs ``builtins.getattr`` and numpy's ``_reconstruct`` among the allowed globals,
# which would let any file run code; so no globals are registered. Instead the hook below writes those values
# as tagged plain containers of tensors and numbers (``WeightsOnlyCheckpointHook.before_save_checkpoint``) and
# turns them back when the harness resumes (``after_load_checkpoint``). The file then loads with
# ``weights_only=True`` anywhere: ``mmaction.apis.init_recognizer``, MMAction2's ``tools/test.py``, ``torch.load``.
_TAG = "__vlbench__"


def to_weights_only(obj):
    """A copy of ``obj`` with numpy values and HistoryBuffers as tagged dicts of tensors / Python numbers."""
    import numpy as np

    if isinstance(obj, dict):
        return {k: to_weights_only(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        out = [to_weights_only(v) for v in obj]
        return out if isinstance(obj, list) else tuple(out)
    if isinstance(obj, np.ndarray):
        return {_TAG: "ndarray", "value": torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return {_TAG: "npscalar", "dtype": str(obj.dtype), "value": obj.item()}
    try:
        from mmengine.logging import HistoryBuffer
    except ImportError:  # pragma: no cover
        HistoryBuffer = ()  # noqa: N806
    if isinstance(obj, HistoryBuffer):
        return {_TAG: "HistoryBuffer", "state": to_weights_only(dict(vars(obj)))}
    return obj


def from_weights_only(obj):
    """Inverse of ``to_weights_only``."""
    import numpy as np

    if isinstance(obj, dict):
        kind = obj.get(_TAG)
        if kind == "ndarray":
            return obj["value"].numpy().copy()
        if kind == "npscalar":
            return np.dtype(obj["dtype"]).type(obj["value"])
        if kind == "HistoryBuffer":
            from mmengine.logging import HistoryBuffer

            buf = HistoryBuffer.__new__(HistoryBuffer)
            buf.__dict__.update(from_weights_only(obj["state"]))
            return buf
        return {k: from_weights_only(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        out = [from_weights_only(v) for v in obj]
        return out if isinstance(obj, list) else tuple(out)
    return obj


def weights_only_hook():
    """The MMEngine hook (built lazily so that importing this module does not import MMEngine)."""
    from mmengine.hooks import Hook

    class WeightsOnlyCheckpointHook(Hook):
        """Write MMEngine checkpoints that ``torch.load(weights_only=True)`` reads; read them back on resume."""

        priority = "VERY_LOW"

        def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
            for key in list(checkpoint):
                if key != "state_dict":
                    checkpoint[key] = to_weights_only(checkpoint[key])

        def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
            for key in list(checkpoint):
                if key != "state_dict":
                    checkpoint[key] = from_weights_only(checkpoint[key])

    return WeightsOnlyCheckpointHook()
