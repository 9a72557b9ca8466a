"""Model weights that protocols pass between episodes and runs.

A protocol that trains saves the trained model's ``state_dict`` (tensors only) as
``model_state.pth`` in the episode directory, so that later episodes (zero-shot test repeats)
and later runs (few-shot or zero-shot from a Kinetics-trained model, ``init_from=<run id>``)
load it with ``torch.load(weights_only=True)``: no pickled objects are ever trusted, whoever
wrote the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from bench import settings
from bench.errors import ConfigError
from protocols.base import file_sha256

log = logging.getLogger(__name__)
STATE_FILE = "model_state.pth"


def save_state(model: torch.nn.Module, path: Path) -> Path:
    """Save ``model``'s parameters and persistent buffers (unwrapping a DDP wrapper)."""
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def run_state_file(run_id: str, where: str) -> Path:
    """The saved model of a finished run (its record exists and its work dir holds ``model_state.pth``)."""
    from bench.store import Store

    store = Store()
    if not store.has(run_id):
        raise ConfigError(
            f"{where}={run_id!r}: neither an existing checkpoint file nor the id of a finished run "
            f"(no record {store.record_path(run_id)})"
        )
    found = sorted((settings.work_root() / run_id).glob(f"*/{STATE_FILE}"))
    if len(found) != 1:
        raise ConfigError(
            f"{where}={run_id!r}: the run is finished but its work dir {settings.work_root() / run_id} holds "
            f"{len(found)} {STATE_FILE} files (expected exactly one: a supervised or zero-shot training run)"
        )
    return found[0]


def resolve_init(value: str, where: str = "init_from") -> Path:
    """A checkpoint path, or the saved model of a finished run given by its run id."""
    path = Path(str(value)).expanduser()
    if path.is_file():
        return path
    if "/" in str(value) or str(value).endswith((".pth", ".pt", ".ckpt")):
        raise ConfigError(f"{where}={value!r}: no such checkpoint file")
    return run_state_file(str(value), where)


def load_state(path: Path, where: str = "init_from") -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint, read with ``weights_only=True`` (a ``state_dict`` key is unwrapped)."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError and others
        raise ConfigError(
            f"{where}={path}: cannot be read with torch.load(weights_only=True) ({type(e).__name__}: {e}); "
            f"give a file of tensors (e.g. the model_state.pth a run writes, or {{'state_dict': ...}})"
        ) from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{where}={path}: expected a dict of tensors, got {type(obj).__name__}")
    return obj


def apply_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> dict[str, Any]:
    """Load ``state`` into ``model``, skipping tensors whose shape differs (a classifier of other classes).

    Returns what happened, for the record: source file + sha256, loaded / skipped / missing counts.
    """
    model = getattr(model, "module", model)
    own = model.state_dict()
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    result = model.load_state_dict(keep, strict=False)
    missing = sorted(result.missing_keys)
    if not keep:
        raise ConfigError(f"checkpoint {source} matches no parameter of the model ({len(state)} tensors)")
    if skipped or missing:
        log.warning("init from %s: %d tensors skipped (shape), %d missing: %s", source, len(skipped), len(missing),
                    (skipped + missing)[:8])
    return {"file": str(source), "sha256": file_sha256(source), "loaded": len(keep), "skipped_shape": skipped,
            "missing": len(missing), "unexpected": len(result.unexpected_keys)}
