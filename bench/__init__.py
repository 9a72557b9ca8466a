"""Benchmark and ablation harness for video action recognition methods that learn from VLMs."""

from __future__ import annotations

__version__ = "0.1.0"
