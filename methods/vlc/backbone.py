"""Video encoder of vlc (section 3.1): a video ViT with joint spatio-temporal attention.

Each frame (or tubelet of frames) is cut into ``P x P`` patches projected by a 3D convolution,
every token attends to every other token (Eq. 1), and the last layer's patch tokens come out as
a map ``(B, D, T', h, w)``: the head average-pools it (Eq. 2) and the spatial distillation
interpolates it to the teacher's patch grid (section 3.2).

``arch='vit'`` is MMAction2's ``VisionTransformer`` (the VideoMAE ViT; UMT-B is the same network
with ``tubelet_size=1``); ``arch='tiny'`` is the synthetic world's ``TinyVideoViT``. Pretrained
weights are read from a local file (or the ``synthetic:tiny-video`` tag) and remapped from the
original VideoMAE / UMT key names and loaded strictly (``load_video_weights``, through
``bench.models.weights``). The released function is kept: a fine-tuned file's ``fc_norm`` is applied
after mean pooling (``post_pool``), and UMT files at other frame counts get the positional table UMT's
fine-tuning code builds (``umt_pos_table``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from bench.errors import ConfigError

log = logging.getLogger(__name__)
ARCHS = ("vit", "tiny")
POOL_NORMS = ("auto", "token_norm", "fc_norm")


def umt_pos_table(num_frames: int, grid: int, dim: int, patch_size: int = 16) -> torch.Tensor:
    """UMT's positional table for ``num_frames`` temporal tokens on a ``grid x grid`` patch grid: ``(1, T*g*g, D)``.

    As UMT's fine-tuning code builds it (unmasked_teacher ``single_modality/models/modeling_finetune.py``,
    ``get_sinusoid_encoding_table``): the sinusoid table of the pre-training geometry (8 frames x 14 x 14
    for patch 16, 8 x 16 x 16 for patch 14), resized bicubically in space when the grid differs, then
    linearly in time (``F.interpolate(mode='linear')``) when the frame count is not 8.
    """
    import torch.nn.functional as F
    from mmaction.models.backbones.vit_mae import get_sinusoid_encoding

    t0, p0 = 8, (16 if patch_size == 14 else 14)
    table = get_sinusoid_encoding(t0 * p0 * p0, dim).reshape(t0, p0, p0, dim)
    if grid != p0:
        table = F.interpolate(table.permute(0, 3, 1, 2), size=(grid, grid), mode="bicubic", align_corners=False)
        table = table.permute(0, 2, 3, 1)
    if num_frames != t0:
        flat = table.permute(1, 2, 3, 0).reshape(grid * grid, dim, t0)
        flat = F.interpolate(flat, size=num_frames, mode="linear")
        table = flat.reshape(grid, grid, dim, num_frames).permute(3, 0, 1, 2)
    return table.reshape(1, num_frames * grid * grid, dim).contiguous()


def video_pooling(weights: str | None, pool_norm: str = "auto") -> str:
    """``token_norm`` (LayerNorm per token, pre-training files) or ``fc_norm`` (LayerNorm after mean pooling).

    ``auto`` follows the weights' layout: fine-tuned UMT / VideoMAE files hold ``fc_norm``, applied by the
    released models after mean pooling (``mean(x) -> fc_norm``), pre-training files a per-token ``norm``.
    """
    if pool_norm not in POOL_NORMS:
        raise ConfigError(f"pool_norm={pool_norm!r}; accepted: {', '.join(POOL_NORMS)}")
    if pool_norm != "auto":
        return pool_norm
    if not weights or str(weights).startswith("synthetic:"):
        return "token_norm"
    from bench.models.weights import open_weights

    return open_weights(weights, "video_vit", lazy=True)[1].pooling


def load_video_weights(net: nn.Module, weights: str, ignore: tuple[str, ...] = (),
                       where: str = "video weights") -> dict[str, Any]:
    """Load a VideoMAE / UMT (or MMAction2) checkpoint into MMAction2's ``VisionTransformer`` ``net`` strictly.

    The file's layout is recognised by its keys (``bench.models.weights``); keys matching ``ignore``
    (e.g. ``clip_decoder.*``, ``head.*``) may be dropped and are listed in the report. When the file has
    no positional table the model builds it: MMAction2's sinusoid table, or for UMT layouts the table
    UMT's fine-tuning code builds (``umt_pos_table``). Raises WeightsError on any other difference.
    """
    from bench.models.weights import load_into, open_weights

    ck, layout, _ = open_weights(weights, "video_vit", lazy=True)
    owned = () if "pos_embed" in layout.convert(ck.entries) else ("pos_embed",)
    report = load_into(net, weights, "video_vit", ignore=ignore, owned=owned, model=f"{where} (MMAction2 ViT)")
    if owned and layout.name.startswith("umt"):
        frames = net.patch_embed.projection.weight.shape[2]
        t = net.pos_embed.shape[1] // (net.grid_size[0] * net.grid_size[1])
        with torch.no_grad():
            net.pos_embed.copy_(umt_pos_table(t, net.grid_size[0], net.embed_dims, net.patch_size))
        report.notes.append(f"pos_embed: UMT's 8-frame sinusoid table interpolated to {t} temporal positions "
                            f"(tubelet {frames})")
    rec = report.as_record()
    rec["pooling"] = layout.pooling
    return rec


@MODELS.register_module()
class VLCVideoEncoder(BaseModule):
    """Video ViT returning its last-layer patch tokens as ``(B, D, T', h, w)`` (Eq. 1).

    Args:
        arch: ``vit`` (MMAction2 ``VisionTransformer``) or ``tiny`` (``TinyVideoViT``).
        num_frames / img_size / patch_size / tubelet_size: input geometry (T, H = W, P, tubelet).
        embed_dims / depth / num_heads / mlp_ratio: transformer size.
        drop_path_rate: stochastic depth (``vit`` only).
        video_weights: local checkpoint path or tag (``synthetic:tiny-video``); None = random init.
        weights_ignore: key patterns of the file that may be left out (``clip_decoder.*``, ``head.*``); the
            record lists what was ignored. Anything else that does not fit is an error.
        pool_norm: ``auto`` (follow the weights: fine-tuned files apply ``fc_norm`` after mean pooling,
            pre-training files a per-token ``norm``), ``token_norm`` or ``fc_norm``.
    """

    def __init__(self, arch: str = "vit", num_frames: int = 16, img_size: int = 224, patch_size: int = 16,
                 tubelet_size: int = 2, embed_dims: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0, video_weights: str | None = None,
                 weights_ignore: tuple[str, ...] | list[str] = (), pool_norm: str = "auto") -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"VLCVideoEncoder.arch={arch!r}; accepted: {', '.join(ARCHS)}")
        if num_frames % tubelet_size or img_size % patch_size:
            raise ConfigError(f"VLCVideoEncoder: num_frames={num_frames} must be a multiple of tubelet_size="
                              f"{tubelet_size} and img_size={img_size} of patch_size={patch_size}")
        self.arch, self.num_frames, self.tubelet = arch, num_frames, tubelet_size
        self.patch_size, self.embed_dims, self.video_weights = patch_size, embed_dims, video_weights
        self.weights_ignore = tuple(weights_ignore)
        self.pooling = video_pooling(video_weights, pool_norm) if arch == "vit" else "token_norm"
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)  # (T', h, w)
        if arch == "tiny":
            from bench.models.tiny_video import TinyVideoViT

            self.net = TinyVideoViT(num_frames=num_frames, image_size=img_size, patch_size=patch_size,
                                    tubelet=tubelet_size, embed_dim=embed_dims, depth=depth, num_heads=num_heads,
                                    mlp_ratio=mlp_ratio, pool="mean")
        else:
            from mmaction.models.backbones.vit_mae import VisionTransformer

            self.net = VisionTransformer(img_size=img_size, patch_size=patch_size, embed_dims=embed_dims, depth=depth,
                                         num_heads=num_heads, mlp_ratio=mlp_ratio, num_frames=num_frames,
                                         tubelet_size=tubelet_size, drop_path_rate=drop_path_rate,
                                         use_mean_pooling=self.pooling == "fc_norm", return_feat_map=True)
        self.load_info: dict[str, Any] | None = None

    def init_weights(self) -> None:
        """Random init of the ViT (MMAction2's), then the pretrained weights when given."""
        if self.arch == "vit":
            self.net.init_weights()
        if self.video_weights and self.arch == "vit":
            self.load_info = load_video_weights(self.net, self.video_weights, self.weights_ignore)
        elif self.video_weights:
            from bench.models.clip import resolve_weights
            from bench.models.tiny_video import load_pretrained

            load_pretrained(self.net, resolve_weights(self.video_weights))

    def post_pool(self, feat: torch.Tensor) -> torch.Tensor:
        """After mean pooling: the released fine-tuned models' ``fc_norm`` (identity for per-token norm)."""
        norm = getattr(self.net, "fc_norm", None)
        return feat if norm is None else norm(feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> last-layer patch tokens ``(B, D, T / tubelet, H / P, W / P)``."""
        b, _, t, h, w = x.shape
        if self.arch == "vit":
            return self.net(x)
        tokens = self.net.tokens(x)[:, 1:]  # drop the class token: patch tokens only (section 3.1)
        gt, gh, gw = t // self.tubelet, h // self.patch_size, w // self.patch_size
        return tokens.reshape(b, gt, gh, gw, -1).permute(0, 4, 1, 2, 3).contiguous()
