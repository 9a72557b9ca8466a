"""The region-aware image encoder of the alt paper (Sec. 3.2, Eqs. 1-3): a CLIP ViT with ToMe in every block.

Each open_clip residual block runs as in Eq. (2): proportional attention over the current tokens,
then token merging (``r`` pairs, class token excluded), then the MLP on the merged tokens. The
CLIP weights are used as they are (the blocks' own ``nn.MultiheadAttention`` projections); ToMe
adds no parameter. Optional AIM adapters (Yang et al. 2023; alt Table 7) are kept in a separate
module list so that the CLIP parameter names stay those of open_clip:

* ``S``: a bottleneck adapter with its own skip connection after the spatial attention;
* ``T``: the block's attention re-used across frames (per token position), followed by an
  adapter without skip, added before the spatial attention;
* ``M``: an adapter parallel to the MLP, scaled by 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError
from methods.alt.tome import bipartite_merge, check_merge_schedule, proportional_attention
from methods.baselines.clip_meanpool import clip_parts

ADAPTER_KINDS = ("", "S", "SM", "STM")


class Adapter(nn.Module):
    """AIM's bottleneck adapter: Linear(D, D * ratio) -> GELU -> Linear(-> D); the last layer starts at zero."""

    def __init__(self, dim: int, ratio: float = 0.25, skip: bool = True) -> None:
        super().__init__()
        hidden = max(1, int(dim * ratio))
        self.fc1, self.fc2, self.skip = nn.Linear(dim, hidden), nn.Linear(hidden, dim), skip
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(F.gelu(self.fc1(x)))
        return x + y if self.skip else y


def _attention(block: nn.Module, h: torch.Tensor, size: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention of an open_clip block on ``h`` (B, L, D) with proportional attention; returns (out, keys)."""
    attn: nn.MultiheadAttention = block.attn
    b, n, d = h.shape
    heads = attn.num_heads
    q, k, v = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).view(b, n, 3, heads, d // heads).unbind(2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, Dh)
    out = proportional_attention(q, k, v, size).transpose(1, 2).reshape(b, n, d)
    return attn.out_proj(out), k.mean(dim=1)


class RegionAwareEncoder(nn.Module):
    """CLIP ViT + ToMe: frames ``(N, C, H, W)`` -> tokens ``(N, 1 + M, D)`` and sizes ``(N, 1 + M, 1)``.

    Args:
        clip_arch / clip_weights: the CLIP whose image encoder is used (``create_clip``).
        tome_r: tokens merged per block (Eq. 2; 0 = plain ViT).
        frozen: freeze the CLIP image encoder (alt Table 7 "Frozen" and the adapter rows).
        adapters: AIM adapters: ``""``, ``"S"``, ``"SM"`` or ``"STM"`` (alt Table 7).
        adapter_ratio: bottleneck width of the adapters relative to the ViT width (AIM: 0.25).
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, tome_r: int = 8, frozen: bool = False,
                 adapters: str = "", adapter_ratio: float = 0.25) -> None:
        super().__init__()
        if adapters not in ADAPTER_KINDS:
            raise ConfigError(f"adapters={adapters!r}; accepted: {ADAPTER_KINDS} (alt Table 7)")
        self.visual, _ = clip_parts(clip_arch, clip_weights)
        blocks = self.visual.transformer.resblocks
        grid = self.visual.grid_size
        self.num_patches, self.depth, self.width = grid[0] * grid[1], len(blocks), self.visual.conv1.out_channels
        self.token_counts = check_merge_schedule(self.num_patches, self.depth, int(tome_r), where="tome_r")
        self.tome_r, self.adapter_kind, self.frozen = int(tome_r), adapters, frozen
        if frozen:
            self.visual.requires_grad_(False)
        make = lambda skip: nn.ModuleList(Adapter(self.width, adapter_ratio, skip) for _ in blocks)
        self.s_adapters = make(True) if "S" in adapters else None
        self.t_adapters = make(False) if "T" in adapters else None
        self.m_adapters = make(False) if "M" in adapters else None

    @property
    def out_tokens(self) -> int:
        """Tokens per frame at the output, class token included (Eq. 3: N + 1 - L * r)."""
        return 1 + self.token_counts[-1] if self.token_counts else 1 + self.num_patches

    def _block(self, i: int, x: torch.Tensor, size: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        blk = self.visual.transformer.resblocks[i]
        if self.t_adapters is not None:  # AIM temporal adapter: the block's attention across frames
            n, tokens, d = x.shape
            xt = x.view(n // frames, frames, tokens, d).transpose(1, 2).reshape(-1, frames, d)
            out, _ = _attention(blk, blk.ln_1(xt), None)
            out = self.t_adapters[i](out).view(n // frames, tokens, frames, d).transpose(1, 2).reshape(n, tokens, d)
            x = x + out
        out, keys = _attention(blk, blk.ln_1(x), size)
        if self.s_adapters is not None:
            out = self.s_adapters[i](out)
        x = x + blk.ls_1(out)  # E'_i of Eq. (2)
        x, size = bipartite_merge(x, size, keys, self.tome_r)  # E''_i
        h = blk.ln_2(x)
        mlp = blk.mlp(h)
        if self.m_adapters is not None:
            mlp = mlp + 0.5 * self.m_adapters[i](h)
        return x + blk.ls_2(mlp), size  # E_i

    def forward(self, frames: torch.Tensor, num_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens after ``ln_post`` (width D of the ViT) and their sizes; ``num_frames`` groups frames for ``T``."""
        x = self.visual._embeds(frames)  # Eq. (1): class token + patches + positions (+ ln_pre)
        size = torch.ones(x.shape[0], x.shape[1], 1, dtype=x.dtype, device=x.device)
        for i in range(self.depth):
            x, size = self._block(i, x, size, num_frames)
        return self.visual.ln_post(x), size

    def project(self, tokens: torch.Tensor) -> torch.Tensor:
        """CLIP's image projection applied to every token (into the text embedding space)."""
        proj = self.visual.proj
        return tokens @ proj if proj is not None else tokens
