"""FLOPs and parameter counts of one inference view, with the ops fvcore misses.

Convention: one fused multiply-add (MAC) counts as one FLOP, as fvcore does and as the four
papers (and UniFormerV2, X-CLIP, ViViT) report GFLOPs. Elementwise ops, activations, softmax
and reductions are not counted under that convention; they are listed in ``ignored_ops`` so
that a reader sees what was left out, never silently.

What fvcore misses on torch 2.x, and how we count it:

* ``aten::scaled_dot_product_attention`` (SDPA): fvcore has no handle and drops it. We count
  the two matmuls it stands for, ``q @ k^T`` and ``attn @ v``: ``B*H*L*S*(E + Ev)`` MACs.
* ``aten::_native_multi_head_attention``: in eval mode without grad, ``nn.MultiheadAttention``
  takes this fused fast path and fvcore drops the whole block (open_clip ViT-B/16 then reads
  11.3 instead of 17.6 GFLOPs). We count its input projections, the two attention matmuls and
  the output projection. Counting both paths gives the same number, so we count the path the
  model really takes at inference and leave ``torch.backends.mha`` alone.
* ``aten::baddbmm`` / ``aten::adaptive_avg_pool{1,3}d`` / ``aten::rms_norm``: counted like
  fvcore's ``bmm`` / ``adaptive_avg_pool2d`` / ``layer_norm``.

Any op that is neither counted nor on one of the two allow-lists (``FREE_OPS``: data movement;
``NOT_COUNTED_BY_CONVENTION``: elementwise work) is reported in ``uncounted_ops``, which must
be empty for a trustworthy count.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from bench.errors import ConfigError
from bench.flops_shapes import _arithmetic

CONVENTION = "1 multiply-add (MAC) = 1 FLOP (fvcore convention, as in the papers)"

# Ops that move or view data and do no arithmetic.
FREE_OPS = frozenset({
    "aten::new_ones",
    "aten::alias", "aten::as_strided", "aten::cat", "aten::chunk", "aten::clone", "aten::contiguous",
    "aten::copy_", "aten::detach", "aten::dropout", "aten::empty", "aten::empty_like", "aten::expand",
    "aten::expand_as", "aten::feature_dropout", "aten::flatten", "aten::flip", "aten::full", "aten::full_like",
    "aten::gather", "aten::index", "aten::index_select", "aten::lift_fresh", "aten::masked_fill",
    "aten::masked_fill_", "aten::movedim", "aten::narrow", "aten::new_zeros", "aten::numpy_T", "aten::ones",
    "aten::ones_like", "aten::pad", "aten::permute", "aten::repeat", "aten::repeat_interleave", "aten::reshape",
    "aten::roll", "aten::select", "aten::size", "aten::slice", "aten::split", "aten::split_with_sizes",
    "aten::squeeze", "aten::stack", "aten::t", "aten::tile", "aten::to", "aten::transpose", "aten::type_as",
    "aten::unbind", "aten::unflatten", "aten::unsqueeze", "aten::view", "aten::view_as", "aten::zeros",
    "aten::zeros_like", "aten::arange", "aten::linspace", "aten::scalar_tensor", "aten::Int", "aten::ScalarImplicit",
    "aten::constant_pad_nd", "aten::expand_copy", "aten::fill_", "aten::zero_", "aten::new_empty", "aten::new_full",
    "aten::unsqueeze_", "aten::squeeze_", "aten::index_put_", "aten::embedding",
})

# Elementwise work, activations, softmax, reductions: O(N) ops the MAC convention leaves out.
NOT_COUNTED_BY_CONVENTION = frozenset({
    "aten::scatter_add", "aten::argsort", "aten::floor_divide_",
    "aten::abs", "aten::add", "aten::add_", "aten::addcmul", "aten::clamp", "aten::clamp_", "aten::clamp_min",
    "aten::cos", "aten::cosine_similarity", "aten::cumsum", "aten::div", "aten::div_", "aten::elu", "aten::erf",
    "aten::exp", "aten::gelu", "aten::hardsigmoid", "aten::hardswish", "aten::leaky_relu", "aten::linalg_vector_norm",
    "aten::log", "aten::log_softmax", "aten::logsumexp", "aten::max", "aten::max_pool1d", "aten::max_pool2d",
    "aten::max_pool3d", "aten::mean", "aten::min", "aten::mul", "aten::mul_", "aten::neg", "aten::norm",
    "aten::pow", "aten::reciprocal", "aten::relu", "aten::relu_", "aten::rsqrt", "aten::rsub", "aten::sigmoid",
    "aten::sigmoid_", "aten::silu", "aten::silu_", "aten::sin", "aten::softmax", "aten::sqrt", "aten::square",
    "aten::sub", "aten::sub_", "aten::sum", "aten::tanh", "aten::avg_pool1d", "aten::avg_pool2d", "aten::avg_pool3d",
    "aten::frobenius_norm", "aten::exp_", "aten::floor_divide", "aten::remainder", "aten::amax", "aten::var",
    "aten::std", "aten::var_mean", "aten::argmin", "aten::sign", "aten::lerp", "aten::argmax", "aten::topk",
    "aten::sort", "aten::eq", "aten::ne", "aten::lt", "aten::gt", "aten::le", "aten::ge", "aten::where",
})


def _shape(v: Any) -> list[int]:
    return list(v.type().sizes())


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``scaled_dot_product_attention``: ``q @ k^T`` plus ``attn @ v`` (per query head)."""
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = prod(q[:-2])
    seq_q, e_qk = q[-2], q[-1]
    seq_k, e_v = k[-2], v[-1]
    return batch * seq_q * seq_k * (e_qk + e_v)


def native_mha_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``_native_multi_head_attention`` (the ``nn.MultiheadAttention`` fast path).

    Inputs are ``(query, key, value, embed_dim, num_heads, qkv_weight, ...)`` with batch-first
    ``(B, L, E)`` tensors; we count the q/k/v projections, the two attention matmuls and the
    output projection.
    """
    q, k, v = (_shape(x) for x in inputs[:3])
    embed = q[-1]
    batch = prod(q[:-2]) if len(q) > 2 else 1
    seq_q, seq_k = q[-2], k[-2]
    in_proj = batch * embed * embed * (seq_q + 2 * seq_k)
    attention = batch * seq_q * seq_k * embed * 2
    out_proj = batch * seq_q * embed * embed
    return in_proj + attention + out_proj


def _baddbmm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    a, b = _shape(inputs[1]), _shape(inputs[2])
    return a[0] * a[1] * a[2] * b[2]


def _per_input_element(inputs: list[Any], outputs: list[Any]) -> int:
    return prod(_shape(inputs[0]))


def _rms_norm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    return 2 * prod(_shape(inputs[0]))


EXTRA_HANDLES = {
    "aten::scaled_dot_product_attention": sdpa_flop_jit,
    "aten::_native_multi_head_attention": native_mha_flop_jit,
    "aten::baddbmm": _baddbmm_flop_jit,
    "aten::adaptive_avg_pool1d": _per_input_element,
    "aten::adaptive_avg_pool3d": _per_input_element,
    "aten::rms_norm": _rms_norm_flop_jit,
}


def parse_views(views: str) -> tuple[int | None, int, int]:
    """Split a views string into (frames, crops, clips).

    Accepts ``"FxCxK"`` (frames x spatial crops x temporal clips, as records write it) and the
    papers' ``"KxC"`` (clips x crops, e.g. ``"4x3"``), with ``x``, ``X`` or ``×``.
    """
    parts = str(views).replace("×", "x").replace("X", "x").split("x")
    try:
        nums = [int(p.strip()) for p in parts]
    except ValueError as e:
        raise ConfigError(
            f"views {views!r} is not 'FRAMESxCROPSxCLIPS' (e.g. '8x3x4') or 'CLIPSxCROPS' (e.g. '4x3')"
        ) from e
    if len(nums) == 3:
        return nums[0], nums[1], nums[2]
    if len(nums) == 2:
        return None, nums[1], nums[0]
    if len(nums) == 1:
        return None, 1, nums[0]
    raise ConfigError(f"views {views!r} has {len(nums)} parts; expected 'FxCxK' or 'KxC'")


def n_views(views: str) -> int:
    """How many views one video is tested with (crops x clips)."""
    _, crops, clips = parse_views(views)
    return crops * clips


class _ParamUse(TorchFunctionMode):
    """Records the parameters that any torch function touches (the inference-path parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.used: set[int] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        flat, _ = tree_flatten((args, kwargs or {}))
        for a in flat:
            if isinstance(a, nn.Parameter):
                self.used.add(id(a))
        return func(*args, **(kwargs or {}))


def _unique_params(module: nn.Module, prefixes: Iterable[str] = ()) -> dict[int, tuple[str, nn.Parameter]]:
    prefixes = tuple(prefixes)
    out = {}
    for name, p in module.named_parameters(remove_duplicate=True):
        if not prefixes or any(name == pre or name.startswith(pre + ".") for pre in prefixes):
            out[id(p)] = (name, p)
    return out


def _check_prefixes(module: nn.Module, prefixes: Sequence[str], what: str) -> None:
    names = dict(module.named_modules())
    missing = [p for p in prefixes if p not in names]
    if missing:
        top = sorted(n for n in names if n and "." not in n)
        raise ConfigError(f"{what} {missing} are not submodules of {type(module).__name__}; top-level ones: {top}")


@dataclass
class FlopsReport:
    """The count of one view: GFLOPs, views, parameters, per-module and per-op breakdowns."""

    gflops_per_view: float
    views: str
    params_m: float
    params_trainable_m: float
    params_inference_m: float
    params_text_m: float
    by_module: dict[str, float] = field(default_factory=dict)
    by_operator: dict[str, float] = field(default_factory=dict)
    uncounted_ops: dict[str, int] = field(default_factory=dict)
    ignored_ops: dict[str, int] = field(default_factory=dict)
    table: str = ""
    class_text_gflops: float = 0.0
    class_text_prompts: int = 0

    @property
    def gflops_total(self) -> float:
        return self.gflops_per_view * n_views(self.views)

    def as_record(self) -> dict[str, Any]:
        """The ``flops`` dict of a run record."""
        return {
            "gflops_per_view": round(self.gflops_per_view, 6),
            "gflops_total": round(self.gflops_total, 6),
            "views": self.views,
            "convention": CONVENTION,
            "params_m": round(self.params_m, 6),
            "params_trainable_m": round(self.params_trainable_m, 6),
            "params_inference_m": round(self.params_inference_m, 6),
            "params_text_m": round(self.params_text_m, 6),
            "by_module": {k: round(v, 4) for k, v in self.by_module.items()},
            "by_operator": {k: round(v, 4) for k, v in self.by_operator.items()},
            "uncounted_ops": dict(self.uncounted_ops),
            "ignored_ops": dict(self.ignored_ops),
            "class_text_gflops": round(self.class_text_gflops, 6),
            "class_text_prompts": int(self.class_text_prompts),
        }

    def summary(self) -> str:
        """A human-readable report: convention, totals, parameters, op lists, breakdown."""
        lines = [
            f"convention: {CONVENTION}; one view, batch size 1, eval mode",
            f"GFLOPs per view: {self.gflops_per_view:.2f}   views: {self.views}   "
            f"total: {self.gflops_total:.1f} GFLOPs",
            f"params (M): total {self.params_m:.2f}, trainable {self.params_trainable_m:.2f}, "
            f"used at inference {self.params_inference_m:.2f}, text branch {self.params_text_m:.2f}",
            "GFLOPs by operator: " + ", ".join(f"{k}={v:.2f}" for k, v in self.by_operator.items()),
            "not counted by convention (elementwise/reductions): "
            + (", ".join(f"{k} x{v}" for k, v in sorted(self.ignored_ops.items())) or "none"),
            "UNCOUNTED ops (no handle, not allow-listed): "
            + (", ".join(f"{k} x{v}" for k, v in sorted(self.uncounted_ops.items())) or "none"),
            f"class text (apart, once per class list, not per view): {self.class_text_gflops:.2f} GFLOPs "
            f"for {self.class_text_prompts} prompts",
            "",
            self.table,
        ]
        return "\n".join(lines)


def count_flops(
    module: nn.Module,
    inputs: tuple[Any, ...],
    *,
    views: str = "1x1x1",
    text_modules: Sequence[str] = (),
    exclude_modules: Sequence[str] = (),
    max_depth: int = 3,
    fast: bool = True,
) -> FlopsReport:
    """Count one view of ``module(*inputs)`` with fvcore plus the handles above.

    Args:
        module: the model, run in eval mode and without grad (restored afterwards).
        inputs: example inputs of one view with batch size 1.
        views: how the model is tested ("FxCxK"), to report the total.
        text_modules: names of submodules that form the text branch (reported separately).
        exclude_modules: submodules left out of the parameter totals (frozen teachers).
        max_depth: depth of the per-module table.
        fast: skip the arithmetic of matrix products and attention while tracing (``_ShapesOnly``): the
            graph and its shapes are the same, the trace takes a fraction of the time. fvcore cannot
            trace on the meta device (torch.jit's tracer and the Python meta kernels do not mix), so
            this is the shape-only path that works. If the model fails that way (it branches on
            values), it is traced again with real arithmetic.
    """
    from fvcore.nn import flop_count_table

    _check_prefixes(module, text_modules, "text_modules")
    _check_prefixes(module, exclude_modules, "exclude_modules")
    n_views(views)  # validate early
    was_training = module.training
    module.eval()
    try:
        analysis, tracker = _trace(module, inputs, fast)
    except Exception as e:  # tracing errors come from the model, any type
        if not fast:
            module.train(was_training)
            raise ConfigError(f"fvcore could not trace {type(module).__name__} on inputs "
                              f"{[tuple(getattr(x, 'shape', ())) for x in inputs]}: {e}") from e
        logging.getLogger(__name__).warning("shape-only trace of %s failed (%s); tracing with real arithmetic",
                                         type(module).__name__, e)
        return count_flops(module, inputs, views=views, text_modules=text_modules,
                           exclude_modules=exclude_modules, max_depth=max_depth, fast=False)
    finally:
        module.train(was_training)
    logging.getLogger("fvcore").setLevel(logging.ERROR)

    unsupported = Counter(analysis.unsupported_ops())
    uncounted = {k: v for k, v in unsupported.items() if k not in FREE_OPS | NOT_COUNTED_BY_CONVENTION}
    ignored = {k: v for k, v in unsupported.items() if k in NOT_COUNTED_BY_CONVENTION}

    excluded = _unique_params(module, exclude_modules) if exclude_modules else {}
    params = {i: np for i, np in _unique_params(module).items() if i not in excluded}
    text = _unique_params(module, text_modules) if text_modules else {}
    million = lambda ps: sum(p.numel() for p in ps) / 1e6
    by_module = {k: v / 1e9 for k, v in analysis.by_module().items() if k and k.count(".") < 2 and v}
    return FlopsReport(
        gflops_per_view=analysis.total() / 1e9,
        views=views,
        params_m=million(p for _, p in params.values()),
        params_trainable_m=million(p for _, p in params.values() if p.requires_grad),
        params_inference_m=million(p for i, (_, p) in params.items() if i in tracker.used),
        params_text_m=million(p for i, (_, p) in text.items() if i not in excluded),
        by_module=by_module,
        by_operator={k: v / 1e9 for k, v in analysis.by_operator().most_common()},
        uncounted_ops=uncounted,
        ignored_ops=ignored,
        table=flop_count_table(analysis, max_depth=max_depth, show_param_shapes=False),
    )


def _trace(module: nn.Module, inputs: tuple[Any, ...], fast: bool):
    from fvcore.nn import FlopCountAnalysis

    module.eval()
    analysis = FlopCountAnalysis(module, inputs).set_op_handle(**EXTRA_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    tracker = _ParamUse()
    with torch.no_grad(), tracker, _arithmetic(fast):
        analysis.total()
    return analysis, tracker
