"""Class-text embeddings of a frozen text encoder, computed on first use and cached on disk.

A head that scores videos against class names (CLIP text embeddings of prompted names) holds a
``LazyClassText``: building the model and ``set_class_names`` only record the names; the text
encoder runs at the first ``get()`` (the first forward), in fixed-size batches, with autocast off
(fp32, whatever AMP the training loop runs under) and outside inference mode, so that the result
is the same tensor whoever asks first. The result goes through the text-embedding cache
(``bench.models.cache.TextEmbeddingCache.encode_group``), one entry per encoder weights, variant,
templates and class list; the weights identity is the sha256 of the live encoder's tensors at first
use, so weights loaded after the build (a checkpoint) are the ones that count, and embeddings held in
memory are recomputed when the encoder's tensors move (``.cuda()``) or change in place.

FLOPs (``bench.flops``): inside ``shape_only()`` a ``get()`` returns zeros of the embeddings'
shape without running the encoder, so a trace never runs 400 classes x 16 templates through the
text tower; the text tower is counted apart on one prompt and scaled by classes x templates
(``probes``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from bench.errors import ConfigError

log = logging.getLogger(__name__)
Tensors = dict[str, torch.Tensor]
BATCH = 256  # prompts per text-encoder call: K400 x 16 templates is 6400 prompts

_STATE = threading.local()
_HASHES: dict[tuple, str] = {}


@contextlib.contextmanager
def shape_only() -> Iterator[None]:
    """Within this block every ``LazyClassText.get()`` returns zeros of the right shape (FLOP tracing)."""
    prev = getattr(_STATE, "shape_only", False)
    _STATE.shape_only = True
    try:
        yield
    finally:
        _STATE.shape_only = prev


def in_shape_only() -> bool:
    return bool(getattr(_STATE, "shape_only", False))


def module_hash(module: nn.Module) -> str:
    """sha256 of a module's tensors, memoised per process on the tensors' identity and version counters.

    An in-place change (``load_state_dict`` copies into the parameters) bumps a tensor's version, so a
    changed module is hashed again.
    """
    from bench.models.cache import state_dict_hash

    state = module.state_dict()
    memo = tuple((k, v.data_ptr(), v._version, tuple(v.shape), str(v.dtype)) for k, v in state.items())
    if memo not in _HASHES:
        if len(_HASHES) > 64:
            _HASHES.clear()
        _HASHES[memo] = state_dict_hash(state)
    return _HASHES[memo]


class LazyClassText:
    """The embeddings of a class list, computed on first use.

    Args:
        encoder: name of the text encoder for the cache key (``open_clip:ViT-B-16``).
        module: the encoder module (its tensors identify the weights; its device is where it runs).
        variant: what ``compute`` returns (part of the cache key, e.g. ``clip_text_head/template_mean``).
        templates: the prompt templates (part of the key; ``len(templates)`` prompts per class).
        compute: ``names -> {name: tensor}``, runs the encoder (no grad, fp32).
        placeholder: ``names -> {name: tensor}`` of the same shapes and dtypes, without running the encoder.
        cache: use the on-disk cache (False for an encoder being trained).
        probe: ``() -> (module, inputs)``: the encoder's forward on ONE prompt, for FLOPs.
    """

    def __init__(self, encoder: str, module: nn.Module, variant: str, templates: Sequence[str],
                 compute: Callable[[list[str]], Tensors], placeholder: Callable[[list[str]], Tensors],
                 cache: bool = True, probe: Callable[[], tuple[nn.Module, tuple[Any, ...]]] | None = None) -> None:
        self.encoder, self.variant, self.templates = encoder, variant, list(templates)
        self._module = [module]  # a list: not registered as a submodule of the owner
        self.compute, self.placeholder, self.cache, self.probe = compute, placeholder, cache, probe
        self.names: list[str] = []
        self._value: Tensors | None = None
        self._signature: tuple | None = None  # the encoder tensors' (address, version) when _value was computed
        self._shape_value: tuple[list[str], Tensors] | None = None  # zeros of the shape (``shape_only``)
        self.encoder_calls = 0  # how many times ``compute`` ran (tests, benchmarks)

    @property
    def module(self) -> nn.Module:
        return self._module[0]

    @property
    def prompts(self) -> int:
        return len(self.names) * max(1, len(self.templates))

    def set_names(self, names: Sequence[str]) -> None:
        """Score against ``names`` from now on; nothing runs until the next ``get()``."""
        self.names = [str(n) for n in names]
        self._value = None

    def _weights_signature(self) -> tuple:
        """Changes whenever the encoder's tensors move or are written in place (a checkpoint, an optimiser step)."""
        m = self.module
        return tuple((t.data_ptr(), t._version) for t in (*m.parameters(), *m.buffers()))

    def _device(self) -> torch.device:
        p = next(self.module.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def get(self) -> Tensors:
        """The embeddings of the current names on the encoder's device (computed on the first call)."""
        if not self.names:
            raise ConfigError(f"{self.variant}: no class names set; call set_class_names(names) first")
        if in_shape_only():
            if self._shape_value is None or self._shape_value[0] != self.names:
                with torch.no_grad():
                    shaped = {k: v.to(self._device()) for k, v in self.placeholder(self.names).items()}
                self._shape_value = (list(self.names), shaped)
            return self._shape_value[1]
        signature = self._weights_signature()
        if self._value is None or signature != self._signature:
            device = self._device()
            with torch.inference_mode(False):  # plain tensors, usable later with autograd
                self._value = {k: v.to(device) for k, v in self._load_or_compute().items()}
            self._signature = signature
        return self._value

    def _run(self) -> Tensors:
        self.encoder_calls += 1
        kind = self._device().type
        with torch.no_grad(), torch.autocast(kind, enabled=False):
            out = self.compute(self.names)
        return {k: v.detach().float() if v.is_floating_point() else v.detach() for k, v in out.items()}

    def _load_or_compute(self) -> Tensors:
        if not self.cache:
            return self._run()
        from bench.models.cache import TextEmbeddingCache
        from bench.models.clip import activation_of

        cache = TextEmbeddingCache(self.encoder, module_hash(self.module))
        key = {"variant": self.variant, "templates": self.templates, "names": self.names,
               "activation": activation_of(self.module)}
        return cache.encode_group(key, self._run)


def lazy_class_texts(model: nn.Module) -> list[tuple[str, LazyClassText]]:
    """Every ``LazyClassText`` held by a submodule of ``model`` (attribute ``class_text``), with the module name."""
    out = []
    for name, m in model.named_modules():
        for attr, value in vars(m).items():
            if isinstance(value, LazyClassText):
                out.append((f"{name}.{attr}" if name else attr, value))
    return out


def encode_in_batches(encode: Callable[[torch.Tensor], torch.Tensor], tokens: torch.Tensor,
                      batch: int = BATCH) -> torch.Tensor:
    """``encode`` over ``tokens`` in chunks of ``batch`` rows, concatenated."""
    return torch.cat([encode(chunk) for chunk in tokens.split(batch)])
