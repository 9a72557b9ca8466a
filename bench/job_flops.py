"""FLOPs and parameters of a run's recognizer, for its record (one view, batch 1, eval mode)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def flops_of(prep) -> dict[str, Any] | None:
    """The ``flops`` block of a record, counted by ``bench.flops`` on the run's model config."""
    try:
        from bench.flops import flops_for_config
    except ImportError:
        log.warning("bench.flops is not available; the record carries no FLOPs")
        return None
    return flops_for_config(prep.cfg, method=prep.method)
