"""``bench flops --convention linear-only``: thop's rule (exact Linear/Conv types, as called), counted by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.flops import count_linear_only


class _SubLinear(nn.Linear):
    """A Linear subclass: thop looks types up exactly, so it is not counted."""


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=4, stride=4, bias=True)  # (1, 8, 4, 4) out of 16x16
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)  # in/out projections inside: zero
        self.fc = nn.Linear(8, 5)
        self.sub = _SubLinear(5, 5)
        self.unused = nn.Linear(100, 100)  # never called: neither MACs nor parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).flatten(2).transpose(1, 2)  # (1, 16, 8)
        y = self.attn(y, y, y, need_weights=False)[0]
        return self.sub(self.fc(y) @ torch.ones(5, 5))  # a matmul outside any module: zero


def test_linear_only_counts_exactly_called_linear_and_conv_modules():
    r = count_linear_only(_Net(), (torch.zeros(1, 3, 16, 16),), views="8x3x4")
    conv = (8 * 4 * 4) * (3 * 4 * 4 + 1)  # out elements x (in channels x kernel + bias), thop's count_convNd
    fc = (16 * 5) * 8  # out elements x in_features
    assert r["gflops_per_view"] * 1e9 == pytest.approx(conv + fc)
    assert r["gflops_total"] == pytest.approx(12 * r["gflops_per_view"])
    assert r["params_m"] * 1e6 == pytest.approx((8 * 3 * 16 + 8) + (8 * 5 + 5))
    assert "linear-only" in r["convention"]


def test_linear_only_on_a_clip_vision_transformer_counts_its_mlps_and_patch_conv():
    """Per layer of a ViT: only c_fc and c_proj (attention runs in nn.MultiheadAttention's functional path)."""
    from open_clip.transformer import VisionTransformer

    vit = VisionTransformer(image_size=32, patch_size=8, width=64, layers=2, heads=2, mlp_ratio=4.0, output_dim=32)
    r = count_linear_only(vit, (torch.zeros(1, 3, 32, 32),))
    tokens = 16 + 1
    mlp = 2 * tokens * 64 * 256  # c_fc + c_proj
    patch = 16 * 64 * 3 * 8 * 8
    assert r["gflops_per_view"] * 1e9 == pytest.approx(2 * mlp + patch)
    assert r["params_m"] * 1e6 == pytest.approx(2 * (64 * 256 + 256 + 256 * 64 + 64) + 64 * 3 * 8 * 8)
