"""Frozen visual encoders for FTP: each returns the last feature map ``m`` and a pooled vector.

ftp paper, section 3.1: "The visual encoder processes the input video and generates feature map
m in R^{T x h x w x D}"; section 3.2: the encoder stays frozen in both training stages. Every
encoder here maps ``(B, C, T, H, W)`` to ``(m, pooled)`` with ``m`` of shape ``(B, T', h, w, D)``
and ``pooled`` of shape ``(B, D)`` (the encoder's own video representation, used by the plain
"without FTP" head of Table 6). All are frozen: no gradients, always in eval mode.

Encoders (Table 6 of the paper and the tiny size):

- ``FTPUniFormerV2``: MMAction2's UniFormerV2. Its ``forward`` returns only the pooled vector
  of the global UniBlocks, so a forward hook on the last ViT block reads the token map there
  (``(1 + h*w, B*T, D)``, class token first) while the unchanged backbone runs. The fused video
  token is added to every position of the map (``global_token='add'``): the global UniBlocks
  inserted "in the last four layers to perform the multi-stage fusion" (appendix A.1) are then
  part of the encoder whose output the processors see.
- ``FTPVideoMAE``: MMAction2's ``VisionTransformer`` (VideoMAE) with ``return_feat_map=True``
  (tubelets of 2 frames: ``T' = T/2``).
- ``FTPTimmFrames``: a timm image ViT (ViT, DeiT III) applied per frame; patch tokens.
- ``FTPCLIPFrames``: an open_clip CLIP image encoder per frame (the X-CLIP-like row); patch
  tokens of the last block after ``ln_post``.
- ``FTPTinyVideo``: the synthetic world's tiny video backbone (``bench.models.tiny_video``).

Weights are local files only (``weights=<path or tag>``); nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

import torch
from mmaction.registry import MODELS
from torch import nn

from bench.errors import ConfigError


def load_state(module: nn.Module, weights: str | None, strip: tuple[str, ...] = ("backbone.", "module.")) -> str:
    """Load a plain local state dict into ``module`` strictly (``weights_only=True``); returns its source.

    For the synthetic world's files; released checkpoints go through ``load_released``.
    """
    if weights in (None, "", "none", "random"):
        return "random initialisation"
    from bench.models.clip import resolve_weights

    path = resolve_weights(weights)
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    clean = {}
    for k, v in state.items():
        for p in strip:
            if k.startswith(p):
                k = k[len(p):]
        clean[k] = v
    missing, unexpected = module.load_state_dict(clean, strict=False)
    if missing or unexpected:
        raise ConfigError(f"weights {weights!r} ({path}) do not fit {type(module).__name__}: missing "
                          f"{missing[:5]} ({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})")
    return str(path)


def _backbone_part(ck: Any, layout: Any) -> dict[str, Any]:
    """A recognizer checkpoint's backbone in the backbone's own naming (``backbone.`` removed)."""
    out = {}
    for k, v in layout.convert(ck.entries).items():
        out[k[len("backbone."):] if k.startswith("backbone.") else k] = v
    return out


def load_released(module: nn.Module, weights: str | None, family: str, ignore: tuple[str, ...] = (),
                  owned: tuple[str, ...] = (), model: str = "") -> dict[str, Any] | None:
    """Load a released checkpoint (``bench.models.weights``) strictly; None for random initialisation."""
    if weights in (None, "", "none", "random"):
        return None
    from bench.models.weights import load_into

    convert = _backbone_part if family == "uniformerv2" else None
    return load_into(module, weights, family, ignore=ignore, owned=owned, convert=convert,
                     model=model or type(module).__name__).as_record()


class FrozenEncoder(nn.Module):
    """Base class: frozen, always in eval mode, ``forward`` runs without gradients.

    Subclasses set ``self.dim`` and implement ``encode(x) -> (m, pooled)``.
    """

    dim: int

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenEncoder:  # noqa: ARG002 - frozen: never in training mode
        return super().train(False)

    def init_weights(self) -> None:
        """Weights are loaded at construction; the runner's ``init_weights`` must not reset them."""

    def identity(self) -> dict[str, Any]:
        """What determines this encoder's output besides its weights (for the feature cache key)."""
        return {"type": type(self).__name__, "dim": self.dim}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self.encode(x)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


@MODELS.register_module()
class FTPUniFormerV2(FrozenEncoder):
    """UniFormerV2 (MMAction2) with its last feature map read by a forward hook.

    Args:
        weights: local UniFormerV2 checkpoint: the OpenGVLab release or MMAction2's model zoo file (layout
            recognised by its keys, ``bench.models.weights``), loaded strictly into the backbone.
        weights_ignore: key patterns of the file that may be dropped (the K710 classifier ``cls_head.*``).
        global_token: ``add`` (fused video token added to every position) or ``none``.
        kwargs: ``UniFormerV2`` arguments (``clip_pretrained`` is forced off: no download).
    """

    def __init__(self, weights: str | None = None, global_token: str = "add",
                 weights_ignore: tuple[str, ...] | list[str] = (), **kwargs: Any) -> None:
        super().__init__()
        if global_token not in ("add", "none"):
            raise ConfigError(f"FTPUniFormerV2.global_token={global_token!r}; accepted: 'add', 'none'")
        kwargs.update(type="UniFormerV2", clip_pretrained=False, pretrained=None)
        self.net = MODELS.build(kwargs)
        self.dim = int(kwargs.get("width", 768))
        self.patch = int(kwargs.get("patch_size", 16))
        self.global_token = global_token
        self.weights_report = load_released(self.net, weights, "uniformerv2", tuple(weights_ignore),
                                            model=f"UniFormerV2 at {kwargs.get('input_resolution', 224)} px")
        self.source = self.weights_report["path"] if self.weights_report else "random initialisation"
        self._last: torch.Tensor | None = None
        self.net.transformer.resblocks[-1].register_forward_hook(self._keep)
        self.freeze()

    def _keep(self, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        self._last = output

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "global_token": self.global_token}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, _, hh, ww = x.shape
        pooled = self.net(x)
        tokens, self._last = self._last, None
        t_out = tokens.shape[1] // b
        h, w = hh // self.patch, ww // self.patch
        m = tokens[1:].reshape(h, w, b, t_out, self.dim).permute(2, 3, 0, 1, 4)
        if self.global_token == "add":
            m = m + pooled[:, None, None, None, :]
        return m, pooled


@MODELS.register_module()
class FTPVideoMAE(FrozenEncoder):
    """VideoMAE ViT (MMAction2 ``VisionTransformer``); ``m`` from ``return_feat_map=True``."""

    def __init__(self, weights: str | None = None, weights_ignore: tuple[str, ...] | list[str] = (),
                 pool_norm: str = "auto", **kwargs: Any) -> None:
        super().__init__()
        from methods.vlc.backbone import load_video_weights, video_pooling

        self.pooling = video_pooling(weights, pool_norm)
        kwargs.update(type="VisionTransformer", return_feat_map=True, pretrained=None,
                      use_mean_pooling=self.pooling == "fc_norm")
        self.net = MODELS.build(kwargs)
        self.dim = int(kwargs.get("embed_dims", 768))
        self.weights_report = load_video_weights(self.net, weights, tuple(weights_ignore)) if weights else None
        self.source = self.weights_report["path"] if self.weights_report else "random initialisation"
        self.freeze()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.net(x).permute(0, 2, 3, 4, 1)  # (B, D, T', h, w) -> (B, T', h, w, D)
        pooled = m.mean(dim=(1, 2, 3))
        if self.net.fc_norm is not None:  # fine-tuned VideoMAE: fc_norm after mean pooling, as released
            pooled = self.net.fc_norm(pooled)
        return m, pooled


def _frames(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    b, c, t, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), b, t


@MODELS.register_module()
class FTPTimmFrames(FrozenEncoder):
    """A timm image transformer (``vit_base_patch16_224``, ``deit3_large_patch16_224`` ...) per frame.

    Args:
        model_name: timm model name; built with ``pretrained=False`` (weights from ``weights``).
        img_size: input size.
        weights_ignore: key patterns of the file that may be dropped (its classifier ``head.*``).
    """

    def __init__(self, model_name: str, weights: str | None = None, img_size: int = 224,
                 weights_ignore: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__()
        import timm

        try:
            self.net = timm.create_model(model_name, pretrained=False, num_classes=0, img_size=img_size)
        except RuntimeError as e:
            raise ConfigError(f"FTPTimmFrames.model_name={model_name!r}: {e}") from e
        self.model_name = model_name
        self.dim = int(self.net.num_features)
        self.prefix = int(getattr(self.net, "num_prefix_tokens", 1))
        self.weights_report = load_released(self.net, weights, "timm", tuple(weights_ignore),
                                            model=f"timm {model_name} (num_classes=0)")
        self.source = self.weights_report["path"] if self.weights_report else "random initialisation"
        self.freeze()

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "model_name": self.model_name}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames, b, t = _frames(x)
        tokens = self.net.forward_features(frames)[:, self.prefix:]
        n = int(tokens.shape[1])  # a plain int under torch.jit's tracer too (fvcore counts through it)
        side = int(round(n ** 0.5))
        m = tokens.reshape(b, t, side, n // side, self.dim)
        return m, m.mean(dim=(1, 2, 3))


@MODELS.register_module()
class FTPCLIPFrames(FrozenEncoder):
    """An open_clip CLIP image encoder per frame; ``m`` = patch tokens of the last block after ``ln_post``."""

    def __init__(self, clip_arch: str, clip_weights: str | None = None) -> None:
        super().__init__()
        from bench.models.clip import create_clip

        self.net = create_clip(clip_arch, clip_weights).visual
        self.clip_arch = clip_arch
        self.dim = int(self.net.ln_post.normalized_shape[0])
        self.source = clip_weights or "random initialisation"
        self.freeze()

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "clip_arch": self.clip_arch}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames, b, t = _frames(x)
        out = self.net.forward_intermediates(frames, indices=1, intermediates_only=True,
                                             normalize_intermediates=True, output_fmt="NCHW")
        fm = out["image_intermediates"][-1]  # (B*T, D, h, w)
        m = fm.permute(0, 2, 3, 1).reshape(b, t, fm.shape[2], fm.shape[3], self.dim)
        return m, m.mean(dim=(1, 2, 3))


@MODELS.register_module()
class FTPTinyVideo(FrozenEncoder):
    """The synthetic world's tiny video ViT (``bench.models.tiny_video.TinyVideoViT``), frozen.

    ``m`` is its token map after the last block and final norm, class token removed:
    ``(B, T/tubelet, H/patch, W/patch, D)``; ``pooled`` is its class token.

    Args:
        weights: a local state dict or ``synthetic:tiny-video`` (pretrained on ``syn_pretrain``).
        kwargs: ``TinyVideoViT`` arguments (must match the weights).
    """

    def __init__(self, weights: str | None = "synthetic:tiny-video", num_frames: int = 16, image_size: int = 64,
                 patch_size: int = 16, tubelet: int = 2, embed_dim: int = 96, depth: int = 4, num_heads: int = 4,
                 mlp_ratio: float = 2.0) -> None:
        super().__init__()
        from bench.models.tiny_video import TinyVideoViT

        self.net = TinyVideoViT(num_frames=num_frames, image_size=image_size, patch_size=patch_size, tubelet=tubelet,
                                embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)
        self.dim = embed_dim
        self.grid = (num_frames // tubelet, image_size // patch_size, image_size // patch_size)
        self.source = load_state(self.net, weights, strip=())
        self.freeze()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.net.tokens(x)
        m = tokens[:, 1:].reshape(x.shape[0], *self.grid, self.dim)
        return m, tokens[:, 0]
