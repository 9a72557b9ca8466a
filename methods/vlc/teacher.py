"""The frozen CLIP image encoder that vlc learns from (sections 3.2 and 3.3.2).

Per frame it gives:

- ``patch``: last-layer patch tokens ``Z_m^L`` (``(K', D')``), after CLIP's final LayerNorm, the
  distillation target of the spatial transfer (section 3.2);
- ``cls``: the frame embedding ``Z_{m,t}^cls`` (Eq. 10) in the joint image-text space
  (L2-normalised), used by the visual-guided text assignment (section 3.3.2) and the keyword
  filter of the cross-attention gate (Eq. 7);
- ``seg`` (cross-attention gate only): patch embeddings of a training-free open-vocabulary
  segmentation of CLIP in the style of NACLIP (Hajimiri et al. 2024): the last block's attention
  becomes key-key attention plus a Gaussian neighbourhood bias over the patch grid, without the
  residual connection and the feed-forward network; its patch outputs go through ``ln_post`` and
  the projection, L2-normalised, so that their cosine with a keyword's text embedding is the
  keyword's map ``A_{t,w}`` (Eq. 6).

The teacher never trains (kept in eval mode, no gradients). Its outputs are deterministic given
the frames, so they may go through the frozen-teacher cache (``bench.models.cache``) when the
config opts in (``teacher_cache``).
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError

log = logging.getLogger(__name__)
CLIP_MEAN = (122.770938, 116.7460125, 104.09373615)  # OpenAI CLIP normalisation on the 0..255 scale
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)


@functools.lru_cache(maxsize=4)
def shared_clip(arch: str, weights: str | None) -> nn.Module:
    """One CLIP per (arch, weights) and process; callers deep-copy the parts they own."""
    from bench.models.clip import create_clip_apart

    return create_clip_apart(arch, weights).eval().requires_grad_(False)


def neighbourhood_bias(grid: tuple[int, int], sigma: float) -> torch.Tensor:
    """NACLIP's Gaussian neighbourhood kernel over a patch grid: ``(hw, hw)`` with 1 on the diagonal."""
    ys, xs = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    pos = torch.stack([ys.flatten(), xs.flatten()], dim=1).float()
    d2 = torch.cdist(pos, pos).pow(2)
    return torch.exp(-d2 / (2 * sigma**2))


class CLIPTeacher(nn.Module):
    """Frozen CLIP image encoder over the frames of a clip.

    Args:
        clip_arch / clip_weights: the CLIP (``create_clip``); weights None = random init (FLOPs builds).
        image_size: frame size the teacher sees (default: the CLIP's own input size).
        segmentation: also compute the NACLIP-style segmentation embeddings (``seg``).
        sigma: standard deviation of NACLIP's Gaussian neighbourhood, in patches.
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, image_size: int | None = None,
                 segmentation: bool = False, sigma: float = 5.0) -> None:
        super().__init__()
        self.visual = copy.deepcopy(shared_clip(clip_arch, clip_weights).visual).eval().requires_grad_(False)
        v = self.visual
        self.patch_size = int(v.patch_size[0])
        self.native_size = int(v.image_size[0])
        self.image_size = int(image_size or self.native_size)
        if self.image_size % self.patch_size:
            raise ConfigError(f"teacher CLIP {clip_arch}: image_size={self.image_size} is not a multiple of its patch "
                              f"size {self.patch_size}, so its patch grid is not whole; accepted: multiples of "
                              f"{self.patch_size} (its native size is {self.native_size})")
        if self.image_size != self.native_size:
            raise ConfigError(f"teacher CLIP {clip_arch}: image_size={self.image_size} differs from its positional "
                              f"embedding's {self.native_size}; accepted: {self.native_size}")
        self.grid = (self.image_size // self.patch_size,) * 2
        self.width = int(v.transformer.width)
        self.embed_dim = int(v.proj.shape[1]) if v.proj is not None else self.width
        self.segmentation, self.sigma = segmentation, sigma
        self.register_buffer("nbias", neighbourhood_bias(self.grid, sigma), persistent=False)
        self.arch, self.weights = clip_arch, clip_weights

    def train(self, mode: bool = True) -> CLIPTeacher:  # always frozen, always eval
        return super().train(False)

    def describe(self) -> dict[str, Any]:
        """What determines the outputs (the teacher cache's preprocessing key)."""
        return {"image_size": self.image_size, "segmentation": self.segmentation, "sigma": self.sigma,
                "clip_mean": CLIP_MEAN, "clip_std": CLIP_STD, "version": 1}

    def frames_from_video(self, x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
        """``(B, C, T, H, W)`` normalised for the video model -> ``(B*T, C, S, S)`` normalised for CLIP."""
        b, c, t, h, w = x.shape
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w) * s + m
        cm = torch.as_tensor(CLIP_MEAN, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        cs = torch.as_tensor(CLIP_STD, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        frames = (frames - cm) / cs
        if (h, w) != (self.image_size, self.image_size):
            frames = F.interpolate(frames, size=(self.image_size,) * 2, mode="bilinear", align_corners=False)
        return frames

    def _naclip_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """NACLIP's last block: key-key attention + neighbourhood bias, no residual, no FFN."""
        attn = block.attn
        h = block.ln_1(x)
        q, k, v = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        n, length, d = k.shape
        heads = attn.num_heads
        k = k.view(n, length, heads, d // heads).transpose(1, 2)
        v = v.view(n, length, heads, d // heads).transpose(1, 2)
        logits = (k @ k.transpose(-2, -1)) * (d // heads) ** -0.5
        bias = torch.zeros(length, length, dtype=x.dtype, device=x.device)
        bias[1:, 1:] = self.nbias.to(x.dtype)
        out = (logits + bias).softmax(dim=-1) @ v
        return attn.out_proj(out.transpose(1, 2).reshape(n, length, d))

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(N, C, S, S)`` CLIP-normalised frames -> ``patch (N, K', D')``, ``cls (N, E)``, ``seg (N, K', E)``."""
        v = self.visual
        x = v._embeds(frames)
        blocks = list(v.transformer.resblocks)
        for blk in blocks[:-1]:
            x = blk(x)
        last = blocks[-1](x)
        tokens = v.ln_post(last)
        cls = tokens[:, 0] @ v.proj if v.proj is not None else tokens[:, 0]
        out = {"patch": tokens[:, 1:], "cls": F.normalize(cls, dim=-1)}
        if self.segmentation:
            seg = v.ln_post(self._naclip_block(blocks[-1], x)[:, 1:])
            seg = seg @ v.proj if v.proj is not None else seg
            out["seg"] = F.normalize(seg, dim=-1)
        return out

    def sizes(self) -> dict[str, tuple[int, ...]]:
        """Per-frame shapes of the outputs (for packing cache entries)."""
        k = self.grid[0] * self.grid[1]
        out = {"patch": (k, self.width), "cls": (self.embed_dim,)}
        if self.segmentation:
            out["seg"] = (k, self.embed_dim)
        return out
