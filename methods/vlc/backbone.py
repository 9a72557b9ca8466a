"""Video encoder of vlc (section 3.1): a video ViT with joint spatio-temporal attention.

Each frame (or tubelet of frames) is cut into ``P x P`` patches projected by a 3D convolution,
every token attends to every other token (Eq. 1), and the last layer's patch tokens come out as
a map ``(B, D, T', h, w)``: the head average-pools it (Eq. 2) and the spatial distillation
interpolates it to the teacher's patch grid (section 3.2).

``arch='vit'`` is MMAction2's ``VisionTransformer`` (the VideoMAE ViT; UMT-B is the same network
with ``tubelet_size=1``); ``arch='tiny'`` is the synthetic world's ``TinyVideoViT``. Pretrained
weights are read from a local file (or the ``synthetic:tiny-video`` tag) and remapped from the
original VideoMAE / UMT key names (``load_video_weights``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from bench.errors import ConfigError

log = logging.getLogger(__name__)
ARCHS = ("vit", "tiny")
# Original VideoMAE / UMT (timm-style) names -> MMAction2 VisionTransformer names.
KEY_RULES = (
    (r"^(module|model|backbone|encoder)\.", ""),
    (r"^patch_embed\.proj\.", "patch_embed.projection."),
    (r"\.mlp\.fc1\.", ".mlp.layers.0.0."),
    (r"\.mlp\.fc2\.", ".mlp.layers.1."),
)
DROP_PREFIXES = ("head.", "decoder.", "encoder_to_decoder.", "mask_token", "clip_", "norm_pix", "teacher")


def _unwrap(state: Any, where: str) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ConfigError(f"{where}: expected a state dict, got {type(state).__name__}")
    return state


def remap_video_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename VideoMAE / UMT checkpoint keys to MMAction2 ``VisionTransformer`` keys.

    Prefixes (``module.``, ``encoder.``, ``backbone.`` ...) are stripped repeatedly, the patch
    projection and MLP layers renamed, classifier / decoder / distillation heads dropped, and a
    fine-tuned checkpoint's ``fc_norm`` becomes the token ``norm`` when there is no ``norm``.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for _ in range(3):  # nested prefixes such as module.encoder.
            new = re.sub(KEY_RULES[0][0], KEY_RULES[0][1], new)
        for pattern, repl in KEY_RULES[1:]:
            new = re.sub(pattern, repl, new)
        if new.startswith(DROP_PREFIXES):
            continue
        out[new] = value
    if "norm.weight" not in out and "fc_norm.weight" in out:
        out["norm.weight"], out["norm.bias"] = out.pop("fc_norm.weight"), out.pop("fc_norm.bias")
    out.pop("fc_norm.weight", None)
    out.pop("fc_norm.bias", None)
    return out


def load_video_weights(module: nn.Module, weights: str, remap: bool = True) -> dict[str, list[str]]:
    """Load local weights into ``module`` (weights only); returns missing / unexpected / skipped keys.

    Raises ConfigError when no tensor of the file fits the model (wrong architecture or file).
    """
    from bench.models.clip import resolve_weights

    path = resolve_weights(weights)
    if path is None:
        return {"missing": [], "unexpected": [], "skipped": []}
    state = _unwrap(torch.load(path, map_location="cpu", weights_only=True), f"video weights {path}")
    if remap:
        state = remap_video_keys(state)
    own = module.state_dict()
    skipped = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    state = {k: v for k, v in state.items() if k not in skipped}
    if not set(state) & set(own):
        raise ConfigError(f"video weights {weights!r} ({path}): none of its {len(state)} tensors matches the "
                          f"encoder's keys (e.g. {sorted(own)[:3]}); is it a VideoMAE / UMT ViT checkpoint?")
    res = module.load_state_dict(state, strict=False)
    if skipped:
        log.warning("video weights %s: shape mismatch, kept initialisation for %s", path, skipped)
    if res.missing_keys:
        log.warning("video weights %s: %d keys not in the file (initialised): %s", path, len(res.missing_keys),
                    res.missing_keys[:8])
    return {"missing": list(res.missing_keys), "unexpected": list(res.unexpected_keys), "skipped": skipped}


@MODELS.register_module()
class VLCVideoEncoder(BaseModule):
    """Video ViT returning its last-layer patch tokens as ``(B, D, T', h, w)`` (Eq. 1).

    Args:
        arch: ``vit`` (MMAction2 ``VisionTransformer``) or ``tiny`` (``TinyVideoViT``).
        num_frames / img_size / patch_size / tubelet_size: input geometry (T, H = W, P, tubelet).
        embed_dims / depth / num_heads / mlp_ratio: transformer size.
        drop_path_rate: stochastic depth (``vit`` only).
        video_weights: local checkpoint path or tag (``synthetic:tiny-video``); None = random init.
    """

    def __init__(self, arch: str = "vit", num_frames: int = 16, img_size: int = 224, patch_size: int = 16,
                 tubelet_size: int = 2, embed_dims: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0, video_weights: str | None = None) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"VLCVideoEncoder.arch={arch!r}; accepted: {', '.join(ARCHS)}")
        if num_frames % tubelet_size or img_size % patch_size:
            raise ConfigError(f"VLCVideoEncoder: num_frames={num_frames} must be a multiple of tubelet_size="
                              f"{tubelet_size} and img_size={img_size} of patch_size={patch_size}")
        self.arch, self.num_frames, self.tubelet = arch, num_frames, tubelet_size
        self.patch_size, self.embed_dims, self.video_weights = patch_size, embed_dims, video_weights
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
                                         use_mean_pooling=False, return_feat_map=True)
        self.load_info: dict[str, list[str]] | None = None

    def init_weights(self) -> None:
        """Random init of the ViT (MMAction2's), then the pretrained weights when given."""
        if self.arch == "vit":
            self.net.init_weights()
        if self.video_weights:
            self.load_info = load_video_weights(self.net, self.video_weights, remap=self.arch == "vit")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> last-layer patch tokens ``(B, D, T / tubelet, H / P, W / P)``."""
        b, _, t, h, w = x.shape
        if self.arch == "vit":
            return self.net(x)
        tokens = self.net.tokens(x)[:, 1:]  # drop the class token: patch tokens only (section 3.1)
        gt, gh, gw = t // self.tubelet, h // self.patch_size, w // self.patch_size
        return tokens.reshape(b, gt, gh, gw, -1).permute(0, 4, 1, 2, 3).contiguous()
