"""The multi-modal video decoder of the alt paper (Sec. 3.3, Eqs. 8-9).

Block i: ``X'_i = X + 1D-Conv_i(X)`` (temporal convolution of the frame embeddings, residual),
``Q'_i = SA_i(Q_{i-1})`` (self-attention among the per-frame queries) and
``Q_i = CA_i(Q'_i, X'_i)`` (queries attend to the frame embeddings). The attention modules are
transformer ones (pre-LayerNorm, residual, the cross-attention followed by a feed-forward layer).
As Eq. (8) writes it, every block convolves the decoder's input X, not the previous block's X'.
With ``sa=False`` and ``conv=False`` a block is cross-attention (+ its feed-forward) only (Table C4).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.errors import ConfigError


class DecoderBlock(nn.Module):
    """One block of Eq. (8); ``sa`` / ``conv`` switch the self-attention and the 1D convolution."""

    def __init__(self, dim: int, heads: int, sa: bool = True, conv: bool = True, kernel: int = 3,
                 mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"decoder conv_kernel={kernel}: an odd kernel >= 1 keeps the frame count")
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim) if conv else None
        if conv:
            nn.init.zeros_(self.conv.weight)  # starts as the identity map X' = X
            nn.init.zeros_(self.conv.bias)
        self.sa_norm = nn.LayerNorm(dim) if sa else None
        self.sa = nn.MultiheadAttention(dim, heads, batch_first=True) if sa else None
        self.ca_norm_q, self.ca_norm_x = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ca = nn.MultiheadAttention(dim, heads, batch_first=True)
        hidden = int(dim * mlp_ratio)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``q``, ``x``: ``(B, T, D)`` queries and frame embeddings; returns the new queries."""
        if self.conv is not None:
            x = x + self.conv(x.transpose(1, 2)).transpose(1, 2)  # X' = X + 1D-Conv(X)
        if self.sa is not None:
            h = self.sa_norm(q)
            q = q + self.sa(h, h, h, need_weights=False)[0]  # Q' = SA(Q)
        kv = self.ca_norm_x(x)
        q = q + self.ca(self.ca_norm_q(q), kv, kv, need_weights=False)[0]  # Q = CA(Q', X')
        return q + self.ffn(self.ffn_norm(q))


class VideoDecoder(nn.Module):
    """M blocks of Eq. (8) (4 for ViT-B, 6 for ViT-L in the paper)."""

    def __init__(self, dim: int, depth: int, heads: int | None = None, sa: bool = True, conv: bool = True,
                 kernel: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ConfigError(f"decoder_depth={depth}: the video decoder needs at least one block")
        heads = heads or max(1, dim // 64)
        if dim % heads:
            raise ConfigError(f"decoder width {dim} is not divisible by {heads} heads")
        self.blocks = nn.ModuleList(DecoderBlock(dim, heads, sa, conv, kernel) for _ in range(depth))

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            q = blk(q, x)
        return q
