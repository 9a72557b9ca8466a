"""bike's MMAction2 modules: the video encoder (backbone), the two-branch head and the recognizer.

- ``BIKEVideoEncoder``: CLIP image encoder per frame, optionally a temporal transformer with
  frame position embeddings ("Transf", 6 layers, Table 6a), frame embeddings ``(B, T, D)``.
- ``BIKEHead``: the Video branch (category [CLS] embeddings from a frozen CLIP text encoder,
  VCS over frames, Sec. 2.3) and the Attributes branch (attribute sentence -> attribute
  encoder -> scored against the categories, Sec. 2.2), fused by Eq. (4).
- ``BIKE``: ``Recognizer3D`` whose ``loss``/``predict`` pass the clips' file names to the head
  (the attributes are per video), with ``set_class_names`` (zero-shot), ``video_features``
  (linear probe) and ``flops_forward`` (what runs at inference, for ``bench.flops``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import nn

from bench.errors import ConfigError
from methods.baselines.clip_meanpool import clip_parts


def load_bike_fusion(encoder: nn.Module, weights: str) -> dict:
    """Load the temporal part of BIKE's released file into ``encoder`` strictly; the load report."""
    from bench.models.weights import bike_fusion_state, load_into

    holder = nn.Module()
    holder.frame_pos, holder.temporal = encoder.frame_pos, encoder.temporal
    report = load_into(holder, weights, "bike", convert=bike_fusion_state, model="BIKE temporal transformer")
    report.activation = "QuickGELU"
    return report.as_record()


@MODELS.register_module()
class BIKEVideoEncoder(nn.Module):
    """Frame embeddings ``(B, T, D)`` of clips ``(B, C, T, H, W)`` (Sec. 2.1 and Table 6a "Transf").

    Args:
        clip_arch / clip_weights: the CLIP whose image encoder encodes each frame.
        temporal_layers: layers of the temporal transformer (0: none; 6 in the paper).
        max_frames: size of the frame position embedding table (77, as the published code).
        frozen: freeze the image encoder.
        temporal_act: activation of the temporal transformer's MLPs: ``'quick_gelu'`` (the public code's
            ``modules/video_clip.py`` ``ResidualAttentionBlock``) or ``'gelu'`` (``nn.GELU``).
        temporal_ln_eps: epsilon of its LayerNorms (1e-12 in the public code's ``LayerNorm``; 1e-5 = PyTorch's).
        temporal_weights: BIKE's released model file (``k400-vit-b-16-f8.pt``): its
            ``fusion_model_state_dict`` fills the frame positions and the temporal transformer, strictly
            (it needs the public code's block: ``quick_gelu`` and eps 1e-12, the defaults).
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, temporal_layers: int = 6,
                 max_frames: int = 77, frozen: bool = False, temporal_act: str = "quick_gelu",
                 temporal_ln_eps: float = 1e-12, temporal_weights: str | None = None) -> None:
        super().__init__()
        from functools import partial

        from open_clip.transformer import LayerNorm, QuickGELU, Transformer

        self.visual, _ = clip_parts(clip_arch, clip_weights)
        if frozen:
            self.visual.requires_grad_(False)
        dim = int(self.visual.output_dim)
        if temporal_layers < 0:
            raise ConfigError(f"BIKEVideoEncoder.temporal_layers={temporal_layers}: must be >= 0")
        acts = {"quick_gelu": QuickGELU, "gelu": nn.GELU}
        if temporal_act not in acts:
            raise ConfigError(f"BIKEVideoEncoder.temporal_act={temporal_act!r}; accepted: {', '.join(acts)}")
        if not temporal_ln_eps > 0:
            raise ConfigError(f"BIKEVideoEncoder.temporal_ln_eps={temporal_ln_eps!r}: must be > 0")
        self.temporal_layers, self.max_frames = temporal_layers, max_frames
        if temporal_layers:
            self.frame_pos = nn.Embedding(max_frames, dim)
            if temporal_weights and (temporal_act != "quick_gelu" or float(temporal_ln_eps) != 1e-12):
                raise ConfigError(f"BIKEVideoEncoder.temporal_weights={temporal_weights!r} is BIKE's released "
                                  f"temporal transformer, trained with QuickGELU and LayerNorm eps 1e-12; got "
                                  f"temporal_act={temporal_act!r}, temporal_ln_eps={temporal_ln_eps!r}")
            self.temporal = Transformer(width=dim, layers=temporal_layers, heads=max(1, dim // 64),
                                        act_layer=acts[temporal_act],
                                        norm_layer=partial(LayerNorm, eps=float(temporal_ln_eps)))
            for m in [self.frame_pos, *self.temporal.modules()]:
                if isinstance(m, nn.Linear | nn.Embedding):
                    nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.weights_report = None
        if temporal_weights:
            if not temporal_layers:
                raise ConfigError("BIKEVideoEncoder.temporal_weights needs the temporal transformer "
                                  "(temporal_layers=6, as BIKE's release)")
            self.weights_report = load_bike_fusion(self, temporal_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        frames = self.visual(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)).view(b, t, -1)
        if not self.temporal_layers:
            return frames
        if t > self.max_frames:
            raise ConfigError(f"{t} frames exceed the temporal transformer's {self.max_frames} position embeddings")
        pos = self.frame_pos(torch.arange(t, device=x.device))[None]
        return frames + self.temporal(frames + pos)  # residual around the temporal transformer


@MODELS.register_module()
class BIKE(Recognizer3D):
    """The bike recognizer (backbone ``BIKEVideoEncoder``, head ``BIKEHead``)."""

    @staticmethod
    def _filenames(data_samples) -> list[str | None] | None:
        if not data_samples:
            return None
        return [ds.metainfo.get("filename") for ds in data_samples]

    def loss(self, inputs: torch.Tensor, data_samples, **kwargs) -> dict:
        frames, _ = self.extract_feat(inputs, data_samples=data_samples)
        labels = torch.stack([ds.gt_labels.item for ds in data_samples]).view(-1).to(frames.device)
        clips = inputs.flatten(0, 1) if inputs.ndim == 6 else inputs
        return self.cls_head.loss_branches(frames, labels, clips, self._filenames(data_samples))

    def predict(self, inputs: torch.Tensor, data_samples, **kwargs):
        from mmengine.structures import LabelData

        frames, _ = self.extract_feat(inputs, test_mode=True)
        views = frames.shape[0] // len(data_samples)
        first_view = inputs[:, 0] if inputs.ndim == 6 else inputs
        scores = self.cls_head.predict_scores(frames, views, first_view, self._filenames(data_samples))
        for ds, score in zip(data_samples, scores):
            ds.pred_scores = LabelData(item=score)
            ds.pred_labels = LabelData(item=score.argmax(dim=-1, keepdim=True).detach())
        return data_samples

    def set_class_names(self, names: Sequence[str]) -> None:
        self.cls_head.set_class_names(names)

    def video_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class-agnostic video representation for the linear probe: mean of the normalised frame
        embeddings (VCS needs a category to spot), ``(B, D)``, averaged over views."""
        import torch.nn.functional as F

        if inputs.ndim == 6:
            b, n = inputs.shape[:2]
            return self.video_features(inputs.flatten(0, 1)).view(b, n, -1).mean(dim=1)
        return F.normalize(self.backbone(inputs), dim=-1).mean(dim=1)

    def flops_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """One view as inference runs it: video branch, plus the attributes branch when it is fused."""
        clips = inputs.flatten(0, 1) if inputs.ndim == 6 else inputs
        frames = self.backbone(clips)
        return self.cls_head.predict_scores(frames, 1, clips, None)
