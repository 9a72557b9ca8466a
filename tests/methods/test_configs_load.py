"""Every method config loads through MMEngine (``_base_`` inheritance resolved) and has what the harness reads.

Cheap (no model is built): it catches a broken base or a config that lost a field when the shared
pipelines and schedules moved to ``methods/_base_/`` (issue 25; that resolved configs are unchanged
by the move is shown by ``benchmarks/config_dump.py`` before/after, in the issue's note).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(ROOT.glob("methods/*/configs/*.py"))
BASES = sorted((ROOT / "methods" / "_base_").rglob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_with_its_bases(path):
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    for key in ("model", "train_dataloader", "test_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        assert key in cfg, f"{path.relative_to(ROOT)} has no {key!r} after inheritance"
    for loader in ("train_dataloader", "test_dataloader"):
        pipeline = cfg[loader]["dataset"]["pipeline"]
        assert pipeline and pipeline[-1]["type"] == "PackActionInputs", (
            f"{path.relative_to(ROOT)}: {loader}.dataset.pipeline does not end in PackActionInputs: {pipeline}")


def test_every_base_is_inherited():
    """A base no config lists is dead weight (or a typo in a ``_base_`` path)."""
    text = "\n".join(p.read_text() for p in CONFIGS)
    unused = [str(b.relative_to(ROOT)) for b in BASES
              if f"_base_/{b.relative_to(ROOT / 'methods' / '_base_').as_posix()}" not in text]
    assert not unused, f"bases no method config inherits: {unused}"
