"""MMAction2 dataset glue: a VideoDataset that accounts for videos that fail to decode.

In training, a video that fails to decode is logged (path and error, one JSON line in
``failure_log``, safe across dataloader workers) and another sample is drawn, as MMEngine's
``BaseDataset`` does for ``None``; the job counts these lines into the record. In testing a
failure raises an error naming the video, because skipping a test video would change the
number that is reported.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform, Compose

from bench.errors import ConfigError, DataError


class VideoDecodeError(DataError):
    """A test video could not be decoded."""


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` with decode-failure accounting (see module docstring)."""

    def __init__(self, *args, failure_log: str | None = None, **kwargs) -> None:
        self.failure_log = failure_log
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        """MMAction2's list reading, with ``# `` comment lines (the header ``bench data import`` writes) skipped."""
        with open(self.ann_file) as f:
            if not f.read(2) == "# ":
                return super().load_data_list()
        import tempfile

        with open(self.ann_file) as f, tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tmp:
            tmp.writelines(line for line in f if not line.startswith("# "))
        original, self.ann_file = self.ann_file, tmp.name
        try:
            return super().load_data_list()
        finally:
            self.ann_file = original
            os.unlink(tmp.name)

    def prepare_data(self, idx: int):
        return prepare_or_report(self, idx, super().prepare_data)


def prepare_or_report(dataset, idx: int, prepare):
    """``prepare(idx)``; a decode failure stops a test set (naming the video) and, in training, is logged
    (one JSON line, safe across workers) and answered with None so MMEngine refetches another sample."""
    try:
        return prepare(idx)
    except Exception as e:  # noqa: BLE001 - any decoder error is reported below
        path = dataset.get_data_info(idx).get("filename")
        if dataset.test_mode:
            raise VideoDecodeError(f"test video {path} failed to decode: {type(e).__name__}: {e}") from e
        if dataset.failure_log:
            line = json.dumps({"path": path, "error": f"{type(e).__name__}: {e}", "pid": os.getpid()})
            with open(dataset.failure_log, "a") as f:
                f.write(line + "\n")
        return None


# Steps whose output differs from call to call: never memoized.
RANDOM_STEPS = ("Random", "Flip", "ColorJitter", "MultiScaleCrop", "Mixup", "CutMix", "Erasing", "Grayscale")


@TRANSFORMS.register_module()
class MemoizedClip(BaseTransform):
    """Runs a deterministic sub-pipeline once per video and reuses its output in this process.

    For methods with a frozen encoder and deterministic sampling (ftp's tiny configs), decoding
    the same clip every epoch, and again in every cell of a grid run by one process, is the main
    cost. The key is the video's path, size and mtime plus the sub-pipeline itself; a random step
    or a sampler without ``test_mode=True`` in the sub-pipeline is refused at build time.
    Entries live in process memory (bounded by ``max_mb``, least recently used evicted).
    """

    _cache: OrderedDict = OrderedDict()
    _bytes = 0
    max_bytes_limit = 2048 * 2**20

    def __init__(self, pipeline: list[dict], max_mb: int = 2048) -> None:
        for step in pipeline:
            kind = step.get("type", "")
            if any(kind.startswith(r) or r in kind for r in RANDOM_STEPS):
                raise ConfigError(f"MemoizedClip: step {kind!r} is random; only deterministic steps can be memoized")
            if kind in ("UniformSample", "SampleFrames") and not step.get("test_mode"):
                raise ConfigError(f"MemoizedClip: {kind} needs test_mode=True (deterministic sampling) to be memoized")
        self.transforms = Compose([TRANSFORMS.build(step) for step in pipeline])
        self.prefix = json.dumps(pipeline, sort_keys=True, default=str)
        type(self).max_bytes_limit = max_mb * 2**20

    def transform(self, results: dict) -> dict:
        path = results["filename"]
        st = os.stat(path)
        key = (self.prefix, path, st.st_size, st.st_mtime_ns)
        hit = self._cache.get(key)
        if hit is None:
            out = self.transforms(dict(results))
            hit = {k: v for k, v in out.items() if k not in results or k in ("imgs", "num_clips", "clip_len")}
            hit.pop("video_reader", None)
            self._store(key, hit)
        else:
            self._cache.move_to_end(key)
        merged = dict(results)
        merged.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in hit.items()})
        return merged

    @classmethod
    def _store(cls, key, value: dict) -> None:
        size = sum(v.nbytes for v in value.values() if isinstance(v, np.ndarray))
        cls._cache[key] = value
        cls._bytes += size
        while cls._bytes > cls.max_bytes_limit and len(cls._cache) > 1:
            _, old = cls._cache.popitem(last=False)
            cls._bytes -= sum(v.nbytes for v in old.values() if isinstance(v, np.ndarray))
