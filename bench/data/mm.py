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

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS

from bench.errors import DataError


class VideoDecodeError(DataError):
    """A test video could not be decoded."""


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` with decode-failure accounting (see module docstring)."""

    def __init__(self, *args, failure_log: str | None = None, **kwargs) -> None:
        self.failure_log = failure_log
        super().__init__(*args, **kwargs)

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except Exception as e:  # noqa: BLE001 - any decoder error is reported below
            path = self.get_data_info(idx).get("filename")
            if self.test_mode:
                raise VideoDecodeError(f"test video {path} failed to decode: {type(e).__name__}: {e}") from e
            if self.failure_log:
                line = json.dumps({"path": path, "error": f"{type(e).__name__}: {e}", "pid": os.getpid()})
                with open(self.failure_log, "a") as f:
                    f.write(line + "\n")
            return None
