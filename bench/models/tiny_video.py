"""A tiny video ViT for the synthetic benchmark: 3D-conv tubelet patchify, joint space-time attention.

Like ViViT's "joint space-time" model (Arnab et al. 2021, section 3.1, model 1) with tubelet
embedding (section 3.1, Fig. 3): a Conv3d with kernel = stride = (t, p, p) turns a clip into
tokens, learned space-time position embeddings are added, and a plain transformer encoder
attends over all tokens at once. Small enough to train on a CPU in seconds; pretrained briefly
on ``syn_pretrain`` (``bench.data.synthetic.video_pretrain.pretrained_weights``, which imports this
module; this module does not import it). Registered as an MMAction2 backbone
(``TinyVideoViT``) when MMAction2 is importable.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyVideoViT(nn.Module):
    """Video ViT over ``(B, C, T, H, W)`` clips.

    Args:
        num_frames: frames per clip (T); must be a multiple of ``tubelet``.
        image_size: H = W of the input.
        patch_size: spatial tubelet size.
        tubelet: temporal tubelet size.
        embed_dim: token width.
        depth: transformer layers.
        num_heads: attention heads.
        pool: ``cls`` (class token) or ``mean`` (mean of tokens) for the clip feature.
    """

    def __init__(self, num_frames: int = 16, image_size: int = 64, patch_size: int = 16, tubelet: int = 2,
                 embed_dim: int = 96, depth: int = 4, num_heads: int = 4, mlp_ratio: float = 2.0,
                 pool: str = "cls", in_channels: int = 3) -> None:
        super().__init__()
        if num_frames % tubelet or image_size % patch_size:
            raise ValueError(f"num_frames={num_frames} must divide by tubelet={tubelet} and image_size={image_size} "
                             f"by patch_size={patch_size}")
        self.num_frames, self.image_size, self.embed_dim, self.pool = num_frames, image_size, embed_dim, pool
        self.patch = nn.Conv3d(in_channels, embed_dim, (tubelet, patch_size, patch_size),
                               stride=(tubelet, patch_size, patch_size))
        n = (num_frames // tubelet) * (image_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, embed_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, int(embed_dim * mlp_ratio), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens ``(B, 1 + N, D)`` after the encoder (class token first)."""
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed[:, : x.shape[1] + 1]
        return self.norm(self.blocks(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clip features ``(B, D)``. Accepts ``(B, C, T, H, W)``."""
        t = self.tokens(x)
        return t[:, 0] if self.pool == "cls" else t[:, 1:].mean(1)

    def init_weights(self) -> None:  # MMAction2 calls this on backbones; weights are set in __init__
        return None


def load_pretrained(model: TinyVideoViT, path: str | Path) -> TinyVideoViT:
    """Load a tiny video checkpoint (weights only; the classification head is not part of it)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


try:  # an MMAction2 backbone, so configs can say dict(type="TinyVideoViT", ...)
    from mmaction.registry import MODELS

    if "TinyVideoViT" not in MODELS.module_dict:
        MODELS.register_module(module=TinyVideoViT)
except ImportError:  # pragma: no cover - MMAction2 is a dependency; keep the model usable without it
    pass
