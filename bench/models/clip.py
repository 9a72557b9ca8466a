"""CLIP through open_clip, with weights from local files only.

Architectures are open_clip JSON configs: the ones open_clip ships (``ViT-B-16``, ``ViT-L-14``,
...) and ours in ``model_configs/`` (the synthetic world's ``vlbench-tiny-vit``), registered
with ``open_clip.add_model_config``. Weights are resolved from a local path or a configured tag
(``settings.weights_entry``); nothing is downloaded. The same function loads real CLIP weights
and the tiny CLIP trained on the synthetic world, so both take exactly the same path.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from bench import settings
from bench.errors import ConfigError
from bench.models.files import (  # noqa: F401 - importable from here as before
    MODEL_CONFIGS,
    SYNTHETIC_WEIGHTS,
    _register_configs,
    file_sha256,
    synthetic_weights,
)

log = logging.getLogger(__name__)
def architectures() -> list[str]:
    import open_clip

    _register_configs()
    return open_clip.list_models()


def resolve_weights(weights: str | None) -> Path | None:
    """A local weights file from a path or a configured tag; None means random initialisation."""
    if weights in (None, "", "none", "random"):
        return None
    if weights.startswith("synthetic:"):
        return synthetic_weights(weights)
    configured = settings.weights_entry(weights)
    path = Path(configured or weights).expanduser()
    if not path.is_file():
        hint = f" (tag {weights!r} is configured as {configured})" if configured else ""
        raise ConfigError(
            f"CLIP weights {weights!r} not found{hint}: give an existing local file, or map a tag to a file under "
            f"'weights:' in {settings.config_file()} or BENCH_WEIGHTS_<TAG>; nothing is downloaded at run time"
        )
    return path


def create_clip(arch: str, weights: str | None = None) -> torch.nn.Module:
    """Build an open_clip model ``arch`` and load ``weights`` from a local file (or random init).

    The file goes through ``bench.models.weights``: its layout is recognised by its keys (OpenAI's
    TorchScript archive or state dict, an open_clip state dict, BIKE's release) and loaded strictly.
    The activation follows the weights' origin: OpenAI-trained weights always build with QuickGELU
    (as ``open_clip`` does for ``pretrained='openai'``, whatever the arch string says); other files
    use the architecture's own activation. ``model.weights_report`` holds what was loaded.
    Raises ConfigError listing the valid architectures when ``arch`` is unknown.
    """
    import open_clip

    from bench.models import weights as wmod

    _register_configs()
    if arch not in open_clip.list_models():
        raise ConfigError(f"unknown CLIP architecture {arch!r}; known: {', '.join(open_clip.list_models())}")
    path = resolve_weights(weights)
    if path is None:
        log.warning("CLIP %s: no weights given, starting from random initialisation", arch)
        return open_clip.create_model(arch, pretrained=None)
    tag = str(weights)
    _, layout, found = wmod.open_weights(tag, "clip", lazy=True)
    if why := wmod.ambiguous_openai(tag, found, layout, arch):
        raise wmod.WeightsError(why)
    quick = clip_uses_quick_gelu(arch, layout.origin)
    model = open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick)
    report = wmod.load_into(model, tag, "clip", model=f"open_clip {arch}")
    report.activation = activation_of(model)  # what the built modules run (an arch config may set quick_gelu itself)
    expected = _activation(arch, layout.origin)  # what clip_activation, and so the cache keys, say
    if report.activation != expected:
        raise ConfigError(f"CLIP {arch} with {tag}: built with {report.activation} but cache keys would say "
                          f"{expected}; the two decisions disagree (a bug: report it)")
    model.weights_report = report.as_record()
    return model


def clip_uses_quick_gelu(arch: str, origin: str) -> bool:
    """QuickGELU for OpenAI-trained weights and ``-quickgelu`` archs; otherwise the arch's GELU."""
    return origin == "openai" or arch.endswith("-quickgelu")


def activation_of(module: torch.nn.Module) -> str:
    """The MLP activation a built CLIP (or any part of it) runs: ``QuickGELU``, ``GELU``, both, or ``none``.

    Cache keys of what a CLIP computes carry it: the weights' hash alone cannot tell an OpenAI file built
    with QuickGELU (its activation) from the same file built with GELU (what an arch string alone gives).
    """
    from open_clip.transformer import QuickGELU

    found = {"QuickGELU" if isinstance(m, QuickGELU) else "GELU"
             for m in module.modules() if isinstance(m, (QuickGELU, torch.nn.GELU))}
    return "+".join(sorted(found)) or "none"


def clip_activation(arch: str, weights: str | None) -> str:
    """The activation ``create_clip(arch, weights)`` builds with, without building it.

    OpenAI-trained files: QuickGELU; otherwise the architecture's own (its open_clip config's ``quick_gelu``).
    """
    _register_configs()
    if resolve_weights(weights) is None:
        return _activation(arch, None)
    from bench.models import weights as wmod

    _, layout, _ = wmod.open_weights(str(weights), "clip", lazy=True)
    return _activation(arch, layout.origin)


def _activation(arch: str, origin: str | None) -> str:
    """QuickGELU for OpenAI-trained weights (``origin``), else the architecture's own (its open_clip config)."""
    import open_clip

    if origin is not None and clip_uses_quick_gelu(arch, origin):
        return "QuickGELU"
    cfg = open_clip.get_model_config(arch) or {}
    return "QuickGELU" if cfg.get("quick_gelu") or arch.endswith("-quickgelu") else "GELU"


def cache_name(arch: str, activation: str, part: str = "") -> str:
    """The model name a cache entry is keyed by: ``open_clip:<arch>[/<part>]@<activation>``."""
    return f"open_clip:{arch}{'/' + part if part else ''}@{activation}"


def create_clip_apart(arch: str, weights: str | None = None) -> torch.nn.Module:
    """``create_clip`` for memoised builders: the caller's RNG is left as it was, random init is from seed 0.

    A builder memoised per process (``functools.lru_cache``) builds on the first call only, and which
    call is first depends on what the process ran before (a local grid process runs many cells in
    turn). Drawing the CLIP's init from the global RNG would then move the RNG of the run that
    happens to build it, and the same cell would train differently as a grid's first or a later cell.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return create_clip(arch, weights)


def weights_source(weights: str | None) -> dict[str, str | None]:
    """Provenance of a weights argument, for records: path, sha256 and the recognised layout (None for random init)."""
    path = resolve_weights(weights)
    if path is None:
        return {"path": None, "sha256": None, "note": "random initialisation"}
    from bench.models import weights as wmod

    out: dict[str, str | None] = {"path": str(path), "sha256": file_sha256(str(path))}
    try:
        layout = wmod.detect(wmod.read_file(path, lazy=True))
    except wmod.WeightsError:
        layout = None
    out["layout"] = layout.name if layout else None
    if layout is not None and layout.family in ("clip", "bike"):
        out["activation"] = "QuickGELU" if layout.origin == "openai" else "the architecture's (GELU unless -quickgelu)"
    return out
