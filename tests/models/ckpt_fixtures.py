"""Random checkpoint files in the released layouts of ``tests/fixtures/checkpoints/*.json``.

Each JSON lists every state-dict entry of a released file (name -> shape, in file order) and how the
file was saved. ``released_state`` draws random tensors for exactly those names; ``shrink`` maps
widths to smaller ones (e.g. ``{768: 48}``) so that a test can build the model at a small width while
the converter still sees the full released key set. ``save_released`` writes the file the way the
authors saved it (TorchScript archive, plain state dict, or a dict under its wrapper key).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"
SCALARS = {"input_resolution": 224, "context_length": 77, "vocab_size": 49408}


def layout(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def released_state(keys: dict[str, list[int]], shrink: dict[int, int] | None = None, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shrink = shrink or {}
    out = {}
    for name, shape in keys.items():
        if name in SCALARS:
            out[name] = torch.tensor(SCALARS[name])
            continue
        shape = [shrink.get(d, d) for d in shape]
        out[name] = (torch.randn(shape, generator=g) * 0.02).to(dtype)
    return out


def _tree(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    root = torch.nn.Module()
    for name, value in state.items():
        *parents, leaf = name.split(".")
        node = root
        for p in parents:
            if not hasattr(node, p):
                node.add_module(p, torch.nn.Module())
            node = getattr(node, p)
        if value.is_floating_point():
            node.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
        else:
            node.register_buffer(leaf, value)
    return root


def save_released(state: dict[str, torch.Tensor], path: Path, how: str | None) -> Path:
    """``how``: ``torchscript`` (a scripted archive whose ``state_dict()`` is ``state``), None (plain dict),
    or the wrapper key (``model``, ``module``, ``state_dict`` ...)."""
    import warnings

    if how == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(torch.jit.script(_tree(state)), str(path))
    elif how is None:
        torch.save(state, path)
    else:
        torch.save({how: state, "epoch": 3}, path)
    return path
