"""Benchmark and ablation harness for video action recognition methods that learn from VLMs."""

from __future__ import annotations

import warnings

__version__ = "0.1.0"

# mmcv-lite has no compiled ops; mmcv warns about one of them at import. Nothing here uses it.
warnings.filterwarnings("ignore", message=r"Fail to import ``MultiScaleDeformableAttention``")
