"""FTP's classification layers: position conv, two transformer blocks, pooling, classifier.

ftp paper, section 3.1 ("Integration and classification") and appendix A.1 Table 1: after the
integrated map ``f in R^{T x h x w x D}``, "two sequential transformer blocks, each containing a
multi-head self-attention layer and a feed-forward network layer", then "an average pooling
layer" and "a linear layer that maps the activations to the action class outputs"; appendix B.2
speaks of "the 2048D feature activations of the first layer of the classifier", so the
classifier is ``Linear(D, 2048) -> GELU -> Linear(2048, C)``. Table 1 opens the successive
layers with a 3x3 convolution with padding 1; we make it depthwise (a UniFormer-style dynamic
position encoding: the attention below is over all ``T*h*w`` tokens and needs positions).
"""

from __future__ import annotations

import torch
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn


class Block(nn.Module):
    """Pre-norm transformer block: MHSA over all ``T*h*w`` tokens, then an MLP feed-forward layer."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


@MODELS.register_module()
class FTPHead(BaseHead):
    """The successive layers and classifier of Fig. 2(a) (trained in stage 2).

    Args:
        num_classes: set by the protocol.
        in_channels: ``D``.
        num_heads: attention heads of the two blocks (the encoder's head count at real sizes).
        num_blocks: 2 in the paper.
        hidden: width of the classifier's first layer (2048 in the paper).
        mlp_ratio: feed-forward width / D.
        dropout_ratio: dropout before the classifier.
        kwargs: ``BaseHead`` options (``loss_cls``, ``label_smooth_eps``, ``average_clips``...).

    ``forward(f)`` takes ``(B, T, h, w, D)`` and returns class scores ``(B, C)``.
    """

    def __init__(self, num_classes: int, in_channels: int, num_heads: int = 8, num_blocks: int = 2,
                 hidden: int = 2048, mlp_ratio: float = 4.0, dropout_ratio: float = 0.0, **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        d = in_channels
        self.pos = nn.Conv2d(d, d, kernel_size=3, padding=1, groups=d)
        self.blocks = nn.ModuleList(Block(d, num_heads, mlp_ratio) for _ in range(num_blocks))
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden) if hidden else nn.Identity()
        self.act = nn.GELU() if hidden else nn.Identity()
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc_cls = nn.Linear(hidden or d, num_classes)

    def features(self, f: torch.Tensor) -> torch.Tensor:
        """The pooled ``D``-dim representation after the two blocks (before the classifier)."""
        b, t, h, w, d = f.shape
        x = f.reshape(b * t, h, w, d).permute(0, 3, 1, 2)
        x = x + self.pos(x)
        x = x.permute(0, 2, 3, 1).reshape(b, t * h * w, d)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x.mean(dim=1))

    def forward(self, f: torch.Tensor, **kwargs) -> torch.Tensor:
        x = self.act(self.fc1(self.features(f)))
        return self.fc_cls(self.dropout(x))


@MODELS.register_module()
class FTPLinearHead(BaseHead):
    """The plain ("without FTP") head: average pooling of the encoder's pooled vector, one linear layer.

    Used for Table 6's rows without FTP: the encoder's own pooled representation (UniFormerV2's
    fused video token; the mean of the feature map for the others) and a linear classifier.
    """

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float = 0.0, **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, pooled: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fc_cls(self.dropout(pooled))
