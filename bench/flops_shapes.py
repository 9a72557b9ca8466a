"""The shape-only trace of ``bench.flops_ops.count_flops``: matrix products, attention, softmax, convolutions and
large elementwise ops return uninitialised outputs of the right shape, so fvcore's jit trace records the same graph
without doing the arithmetic (a UniFormerV2-L/14 64x336 view is trillions of MACs otherwise).
``tests/test_flops.py::test_shape_only_trace_gives_the_same_count_as_real_arithmetic`` checks that both give the
same count."""

from __future__ import annotations

import contextlib

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils._pytree import tree_flatten, tree_map

_aten = torch.ops.aten


def _flash_cpu_shapes(q, k, v, *args, **kwargs):
    return [(tuple(q.shape[:-1]) + (int(v.shape[-1]),), q.dtype), (tuple(q.shape[:-1]), torch.float32)]


# Output shapes of the ops that hold nearly all the arithmetic, from their inputs' shapes alone.
_SHAPES = {
    _aten.mm.default: lambda a, b: [((int(a.shape[0]), int(b.shape[1])), a.dtype)],
    _aten.addmm.default: lambda c, a, b, **k: [((int(a.shape[0]), int(b.shape[1])), a.dtype)],
    _aten.bmm.default: lambda a, b: [((int(a.shape[0]), int(a.shape[1]), int(b.shape[2])), a.dtype)],
    _aten.baddbmm.default: lambda c, a, b, **k: [((int(a.shape[0]), int(a.shape[1]), int(b.shape[2])), a.dtype)],
    _aten._scaled_dot_product_flash_attention_for_cpu.default: _flash_cpu_shapes,
    # attention's softmax over (heads, L, L) is the one non-MAC op whose cost is quadratic in the tokens (vlc's
    # 32-frame UMT: 12 x 6272^2 scores, ~1.9 GB a layer); its output has its input's shape
    _aten._softmax.default: lambda x, dim, half_to_float: [(tuple(x.shape), torch.float32 if half_to_float
                                                             else x.dtype)],
    _aten._safe_softmax.default: lambda x, dim, dtype=None: [(tuple(x.shape), dtype or x.dtype)],
}
_CONVS = frozenset({torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d,
                    torch.conv1d, torch.conv2d, torch.conv3d, torch.nn.functional.conv_transpose1d,
                    torch.nn.functional.conv_transpose2d, torch.nn.functional.conv_transpose3d})


# Elementwise ops and norms (not counted by the MAC convention): on large activations they dominate a shape-only
# trace (UniFormerV2-L/14 64x336: QuickGELU's sigmoid on 36865 x 4096 tokens), so past ``_ShapesOnly.min_numel``
# elements their outputs are uninitialised too, with the shape, strides and dtype of their meta kernel.
_ELEMENTWISE = frozenset({
    _aten.add, _aten.sub, _aten.mul, _aten.div, _aten.rsub, _aten.neg, _aten.clone, _aten.sigmoid, _aten.tanh,
    _aten.gelu, _aten.silu, _aten.relu, _aten.exp, _aten.erf, _aten.native_layer_norm, _aten.native_group_norm,
})


def _uninitialised_like_meta(func, args, kwargs):
    """The outputs of ``func``, computed on meta tensors and returned uninitialised on the inputs' device."""
    device = next(a.device for a in tree_flatten(args)[0] if isinstance(a, torch.Tensor))
    meta = lambda t: t.to("meta") if isinstance(t, torch.Tensor) else t
    out = func(*tree_map(meta, args), **tree_map(meta, kwargs))
    return tree_map(lambda o: torch.empty_strided(o.shape, o.stride(), dtype=o.dtype, device=device)
                    if isinstance(o, torch.Tensor) else o, out)


class _ShapesOnly(TorchDispatchMode):
    """Below the tracer: matrix products, softmax and CPU attention give uninitialised outputs of their shape.

    The jit tracer records each op (name, input and output shapes) above this mode, so fvcore sees the
    same graph; only the arithmetic is skipped. Out-of-place elementwise ops and norms on floating-point
    tensors of at least ``min_numel`` elements are skipped too; everything else (small tensors, the scalars
    a trace reads sizes from, integer tensors that may be indices, indexing) runs.
    """

    min_numel = 1 << 18

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        shapes = _SHAPES.get(func)
        if shapes is None:
            tensors = [a for a in tree_flatten(args)[0] if isinstance(a, torch.Tensor)]
            if (func.overloadpacket in _ELEMENTWISE and not func._schema.is_mutable and tensors
                    and all(t.is_floating_point() for t in tensors)  # integer tensors may be indices
                    and max(t.numel() for t in tensors) >= self.min_numel):
                return _uninitialised_like_meta(func, args, kwargs)
            return func(*args, **kwargs)
        device = args[0].device
        outs = [torch.empty(shape, dtype=dtype, device=device) for shape, dtype in shapes(*args, **kwargs)]
        return outs[0] if len(outs) == 1 else tuple(outs)


class _ConvTraced(TorchFunctionMode):
    """Convolutions run outside the dispatch mode: under a Python dispatch mode the tracer drops them."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _CONVS:
            with _disable_current_modes():
                return func(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


def _conv_shape_only(x, w, b, stride, padding, dilation, transposed, output_padding, groups, *flags):
    """A CPU kernel of ``aten::_convolution`` that computes nothing: the output of the meta kernel, uninitialised."""
    meta = lambda t: t.to("meta") if isinstance(t, torch.Tensor) else t
    o = _aten.convolution.default(meta(x), meta(w), meta(b), stride, padding, dilation, transposed, output_padding,
                                  groups)
    return torch.empty_strided(o.shape, o.stride(), dtype=o.dtype, device=x.device)


@contextlib.contextmanager
def _arithmetic(fast: bool):
    """Convolutions reach the tracer outside the dispatch mode (``_ConvTraced``), which records
    ``aten::_convolution`` as always; below it, for the trace only, the CPU kernel of ``_convolution`` is
    ``_conv_shape_only`` (a scoped library registration, undone on exit): UniFormerV2-L/14 64x336's
    local MHRA convolutions are ~2.5 TMAC of real arithmetic otherwise."""
    if not fast:
        yield
        return
    with torch.library._scoped_library("aten", "IMPL") as lib:
        lib.impl("_convolution", _conv_shape_only, "CPU")
        with _ShapesOnly(), _ConvTraced():
            yield
