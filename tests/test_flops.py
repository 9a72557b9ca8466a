"""FLOPs counting: hand-checkable cases, the ops fvcore misses, and two method-free anchors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError
from bench.flops import count_flops, count_recognizer, flops_for_model, n_views, parse_views

torch.set_num_threads(1)

UNIFORMERV2_B16 = dict(  # mmaction2 1.1.0 uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb.py, random init
    type="Recognizer3D",
    backbone=dict(type="UniFormerV2", input_resolution=224, patch_size=16, width=768, layers=12, heads=12, t_size=8,
                  dw_reduction=1.5, backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True,
                  double_lmhra=True, return_list=[8, 9, 10, 11], n_layers=4, n_dim=768, n_head=12, mlp_factor=4.0,
                  drop_path_rate=0.0, mlp_dropout=[0.5] * 4, clip_pretrained=False, pretrained=None),
    cls_head=dict(type="UniFormerHead", dropout_ratio=0.5, num_classes=400, in_channels=768, average_clips="prob"),
    data_preprocessor=dict(type="ActionDataPreprocessor", mean=[114.75] * 3, std=[57.375] * 3, format_shape="NCTHW"),
)


class SDPA(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_single_linear_is_in_times_out_per_token():
    r = count_flops(nn.Linear(10, 20), (torch.zeros(1, 5, 10),))
    assert r.gflops_per_view * 1e9 == pytest.approx(5 * 10 * 20)
    assert r.params_m * 1e6 == 220 and r.params_inference_m * 1e6 == 220
    assert r.uncounted_ops == {}


def test_sdpa_counts_both_matmuls():
    q, k, v = torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 5, 4), torch.zeros(1, 2, 5, 6)
    r = count_flops(SDPA(), (q, k, v))
    assert r.gflops_per_view * 1e9 == pytest.approx(2 * 3 * 5 * (4 + 6))  # q@k^T + attn@v
    assert r.uncounted_ops == {}


@pytest.mark.parametrize("fastpath", [True, False])
def test_multihead_attention_fast_and_slow_paths_agree(fastpath):
    class SelfAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    old = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(fastpath)
    try:
        r = count_flops(SelfAttn(), (torch.zeros(1, 5, 8),))
    finally:
        torch.backends.mha.set_fastpath_enabled(old)
    # q,k,v projections 5*8*24 + two attention matmuls 5*5*8*2 + output projection 5*8*8
    assert r.gflops_per_view * 1e9 == pytest.approx(960 + 400 + 320)
    assert r.uncounted_ops == {}


def test_parameter_kinds_trainable_inference_text_and_excluded():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.frozen = nn.Linear(4, 4)  # 20 params, frozen
            self.head = nn.Linear(4, 2)  # 10 params
            self.text = nn.Linear(4, 3)  # 15 params, text branch, not on this inference path
            self.teacher = nn.Linear(4, 100)  # excluded by the caller
            self.frozen.requires_grad_(False)

        def forward(self, x):
            return self.head(self.frozen(x))

    r = count_flops(Model(), (torch.zeros(1, 4),), text_modules=["text"], exclude_modules=["teacher"])
    assert r.params_m * 1e6 == pytest.approx(45)
    assert r.params_trainable_m * 1e6 == pytest.approx(25)
    assert r.params_inference_m * 1e6 == pytest.approx(30)
    assert r.params_text_m * 1e6 == pytest.approx(15)
    with pytest.raises(ConfigError, match="not submodules"):
        count_flops(Model(), (torch.zeros(1, 4),), text_modules=["txt"])


def test_op_without_handle_is_reported_not_dropped():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumprod(x, dim=-1).view(-1)

    r = count_flops(Odd(), (torch.ones(2, 3),))
    assert r.uncounted_ops == {"aten::cumprod": 1}
    assert "aten::cumprod" in r.summary()


def test_views_strings():
    assert parse_views("8x3x4") == (8, 3, 4) and n_views("8x3x4") == 12
    assert n_views("4x3") == 12 and n_views("4×3") == 12 and n_views("1") == 1
    with pytest.raises(ConfigError, match="views"):
        parse_views("four by three")


def test_open_clip_vit_b16_anchor():
    open_clip = pytest.importorskip("open_clip")
    visual = open_clip.create_model("ViT-B-16", pretrained=None).visual
    r = count_flops(visual, (torch.zeros(1, 3, 224, 224),))
    assert r.gflops_per_view == pytest.approx(17.5, rel=0.03)  # per frame; fvcore alone reads 11.3
    assert r.uncounted_ops == {}
    assert r.params_m == pytest.approx(86.2, rel=0.01)


def _uniformerv2(**backbone):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    register_all_modules()
    cfg = json.loads(json.dumps(UNIFORMERV2_B16))
    cfg["backbone"].update(backbone)
    return MODELS.build(cfg)


def test_uniformerv2_b16_anchor():
    model = _uniformerv2()
    r = count_recognizer(model, (3, 8, 224, 224), views="8x3x4")
    # UniFormerV2 paper / mmaction2 metafile: 1.8 TFLOPs over 4x3 views = 150 GFLOPs per view
    assert r.gflops_per_view == pytest.approx(150, rel=0.03)
    assert r.gflops_total == pytest.approx(1800, rel=0.03)
    assert r.uncounted_ops == {}
    assert r.params_m == pytest.approx(115, rel=0.02)


def test_flops_for_model_record_shape():
    model = _uniformerv2(input_resolution=32, width=64, layers=2, heads=2, t_size=4, return_list=[0, 1],
                         n_layers=2, n_dim=64, n_head=2)
    model.cls_head = nn.Linear(64, 5)  # a head without keyword arguments
    rec = flops_for_model(model, (3, 4, 32, 32), views="4x1x2", text_modules=["cls_head"])
    assert {"gflops_per_view", "gflops_total", "views", "params_m", "params_trainable_m", "params_inference_m",
            "params_text_m", "uncounted_ops", "convention"} <= set(rec)
    assert rec["gflops_total"] == pytest.approx(2 * rec["gflops_per_view"], rel=1e-3)
    assert rec["params_text_m"] == pytest.approx(64 * 5 / 1e6 + 5 / 1e6)
    assert rec["uncounted_ops"] == {}
    json.dumps(rec)  # storable


def test_cli_counts_a_config_file(tmp_path, capsys):
    from bench.cli import main

    cfg = json.loads(json.dumps(UNIFORMERV2_B16))
    cfg["backbone"].update(input_resolution=32, width=64, layers=2, heads=2, t_size=8, return_list=[0, 1],
                           n_layers=2, n_dim=64, n_head=2, clip_pretrained=True, pretrained="ViT-B/16")
    cfg["cls_head"]["in_channels"] = 64
    pipeline = [dict(type="UniformSample", clip_len=8, num_clips=4, test_mode=True),
                dict(type="ThreeCrop", crop_size=32)]
    path = tmp_path / "tiny_uniformerv2.py"
    path.write_text(f"model = {cfg!r}\ntest_pipeline = {pipeline!r}\n")
    assert main(["flops", str(path), "--random-init", "--frames", "4", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["views"] == "4x3x4" and rec["uncounted_ops"] == {}
    assert main(["flops", str(path), "--random-init"]) == 0
    out = capsys.readouterr().out
    assert "1 multiply-add (MAC) = 1 FLOP" in out and "UNCOUNTED ops" in out
    assert main(["flops", str(tmp_path / "missing.py")]) == 2


@pytest.mark.parametrize("min_numel", [None, 2])
@pytest.mark.parametrize("method", ["clip_meanpool", "alt", "bike", "ftp", "vlc"])
def test_shape_only_trace_gives_the_same_count_as_real_arithmetic(method, min_numel, monkeypatch, caplog):
    """The default trace skips the arithmetic of matrix products, softmax and (on large tensors) elementwise ops; the
    graph fvcore counts must not change. ``min_numel=2`` skips the elementwise ops of the tiny models too (all but
    the scalars a trace reads sizes from), and the shape-only trace must not have fallen back to real arithmetic."""
    import logging

    from mmaction.registry import MODELS

    import bench.flops_shapes

    if min_numel is not None:
        monkeypatch.setattr(bench.flops_shapes._ShapesOnly, "min_numel", min_numel)
    caplog.set_level(logging.WARNING, logger="bench.flops_ops")  # where a fallback to real arithmetic is logged
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401
    from bench.method import get_method, load_config
    from bench.models.class_text import shape_only

    register_all_modules()
    cfg = load_config(method, "tiny")
    with shape_only():
        model = MODELS.build(cfg.model).eval()
    info = get_method(method)
    shape = (3, int(cfg.get("num_frames") or 8), int(cfg.get("img_size") or 64), int(cfg.get("img_size") or 64))
    kw = dict(text_modules=info.text_modules, exclude_modules=info.teacher_modules)
    fast = count_recognizer(model, shape, fast=True, **kw)
    assert "tracing with real arithmetic" not in caplog.text
    real = count_recognizer(model, shape, fast=False, **kw)
    assert fast.gflops_per_view == real.gflops_per_view and fast.by_operator == real.by_operator
    assert fast.by_module == real.by_module and fast.uncounted_ops == real.uncounted_ops
    assert fast.params_inference_m == real.params_inference_m and fast.ignored_ops == real.ignored_ops


def test_shape_only_trace_skips_the_attention_softmax_and_counts_the_same():
    """Softmax over (heads, L, L) is the one non-MAC op quadratic in the tokens: the default trace gives its output
    uncomputed (vlc's 32-frame UMT spent 80 % of its count there), and the count is the real-arithmetic one."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Attention(nn.Module):  # MMAction2's vit_mae Attention: q @ k^T, softmax, @ v
        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(8, 24), nn.Linear(8, 8)

        def forward(self, x):
            q, k, v = self.qkv(x).reshape(1, 6, 3, 2, 4).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(1, 6, 8))

    class Seen(TorchDispatchMode):  # outside the counter's own mode: sees what it lets through to the kernels
        def __init__(self):
            super().__init__()
            self.ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.add(str(func))
            return func(*args, **(kwargs or {}))

    counts = {}
    for fast in (True, False):
        with Seen() as seen:
            counts[fast] = count_flops(Attention(), (torch.zeros(1, 6, 8),), fast=fast)
        assert ("aten._softmax.default" in seen.ops) is not fast, fast
    # qkv 6*8*24, q@k^T 2 heads * 6*6*4, attn@v 2*6*6*4, proj 6*8*8
    assert counts[True].gflops_per_view * 1e9 == pytest.approx(1152 + 288 + 288 + 384)
    assert counts[True].gflops_per_view == counts[False].gflops_per_view
    assert counts[True].ignored_ops == counts[False].ignored_ops and counts[True].uncounted_ops == {}


def test_shape_only_convolution_counts_the_same_and_the_real_kernel_is_back_afterwards():
    """In a shape-only trace ``aten::_convolution`` has a kernel that computes nothing, for the trace only."""
    conv = nn.Conv3d(4, 6, (3, 1, 1), padding=(1, 0, 0), groups=2).eval()
    x = torch.ones(1, 4, 5, 3, 3)
    fast, real = count_flops(conv, (x,), fast=True), count_flops(conv, (x,), fast=False)
    # output 6 x 5 x 3 x 3 positions, each (4 / 2 groups) x 3 kernel taps
    assert fast.gflops_per_view * 1e9 == pytest.approx(6 * 5 * 3 * 3 * 2 * 3) == real.gflops_per_view * 1e9
    assert fast.by_operator == real.by_operator == {"conv": pytest.approx(1620 / 1e9)}
    with torch.no_grad():
        expected = F.conv3d(x, conv.weight, conv.bias, padding=(1, 0, 0), groups=2)
        # the middle frame sees all three taps of ones: the sum of each output channel's weights plus its bias
        assert torch.allclose(expected[0, :, 2, 1, 1], conv.weight.sum(dim=(1, 2, 3, 4)) + conv.bias)
        assert torch.equal(conv(x), expected)


def test_random_init_strips_every_weights_field_of_every_config():
    """``--random-init`` (and the records' counts) leave no weights file to load, in any shipped config."""
    from mmengine.config import Config

    import methods  # noqa: F401 - registers the methods
    from bench.identity import weights_fields
    from bench.job_flops import _strip_weights
    from bench.method import get_method
    from bench.registry import METHODS

    checked = 0
    for name in METHODS.names():
        for path in sorted(get_method(name).config_dir.glob("*.py")):
            cfg = Config.fromfile(str(path))
            _strip_weights(cfg.model)
            left = {k: v for k, v in weights_fields(cfg).items() if v is not None}
            assert not left, f"{path.name}: weights left after stripping: {left}"
            checked += 1
    assert checked >= 30
