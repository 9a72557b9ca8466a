"""Pipeline step that MMAction2 lacks for bike's recipe (appendix Table A.1): random grayscale."""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from bench.errors import ConfigError


@TRANSFORMS.register_module()
class RandomGrayscaleClip(BaseTransform):
    """With probability ``p``, turn every frame of the clip to grayscale (kept as 3 channels).

    One draw per clip, so the frames of a clip stay consistent. ITU-R 601 luma weights, as
    torchvision's ``RandomGrayscale``. Randomness comes from NumPy's global generator, which
    MMEngine seeds per worker.
    """

    def __init__(self, p: float = 0.2) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"RandomGrayscaleClip.p={p!r}: must lie in [0, 1]")
        self.p = p

    def transform(self, results: dict) -> dict:
        if self.p > 0 and np.random.rand() < self.p:
            out = []
            for img in results["imgs"]:
                luma = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
                out.append(np.repeat(luma[..., None], 3, axis=-1).astype(img.dtype))
            results["imgs"] = out
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
