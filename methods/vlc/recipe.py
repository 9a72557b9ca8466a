"""UMT's fine-tuning recipe as MMAction2 parts (vlc Sec. 4: "We follow the same training settings as UMT").

UMT (OpenGVLab/unmasked_teacher, ``single_modality``) fine-tunes with, besides Mixup / CutMix / label
smoothing (which vlc's appendix A.5 excludes):

* RandAugment ``rand-m7-n4-mstd0.5-inc1`` on the decoded frames, the same operations and magnitudes on
  every frame of a clip (``datasets/kinetics_sparse.py`` ``_aug_frame``; ``datasets/video_transforms.py``
  ``create_random_augment``: ``translate_const = 0.45 x crop``, bicubic): ``ClipRandAugment`` runs timm's
  ``rand_augment_transform`` (UMT's ``rand_augment.py`` is a copy of it for frame lists) on every frame
  from the same random state;
* random erasing p = 0.25, ``pixel`` mode, one box shared by all frames (``datasets/random_erasing.py``
  with ``cube=True``) filled with per-pixel normal noise in normalised space: MMAction2's
  ``RandomErasing`` with ``mode='rand'``, ``fill_color`` = mean, ``fill_std`` = std (the same normal noise
  in pixel space, clipped to [0, 255]) after cropping (configs);
* repeated augmentation x2 (``--num_sample 2``: one decode, two augmented copies of the same frames):
  ``CheckedRepeatAugDataset`` (MMAction2's ``RepeatAugDataset`` with ``sample_once=True`` and our
  decode-failure accounting) with ``repeat_pseudo_collate``;
* layer-wise learning-rate decay 0.75 (``optim_factory.py`` ``get_num_layer_for_vit``,
  ``LayerDecayValueAssigner``; ``run_class_finetuning.py``): ``VLCLayerDecayOptimWrapperConstructor``.
"""

from __future__ import annotations

import random
import re

import numpy as np
from mmaction.datasets import RepeatAugDataset
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from bench.errors import ConfigError

NO_WEIGHT_DECAY = ("pos_embed", "cls_token", "mask_token")  # UMT's model.no_weight_decay()


@TRANSFORMS.register_module()
class ClipRandAugment(BaseTransform):
    """timm's RandAugment applied to every frame of ``results['imgs']`` (RGB uint8) with the same ops.

    Args:
        config_str: timm's RandAugment string (UMT: ``rand-m7-n4-mstd0.5-inc1``).
        translate_const: pixels of the translate ops (UMT: ``int(0.45 * crop size)``, 100 at 224).
        interpolation: ``bicubic`` (UMT's ``--train_interpolation``) or ``bilinear``.
    """

    def __init__(self, config_str: str = "rand-m7-n4-mstd0.5-inc1", translate_const: int = 100,
                 interpolation: str = "bicubic") -> None:
        from PIL import Image
        from timm.data.auto_augment import rand_augment_transform

        modes = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
        if interpolation not in modes:
            raise ConfigError(f"ClipRandAugment.interpolation={interpolation!r}; accepted: {sorted(modes)}")
        try:
            self.augment = rand_augment_transform(config_str, {"translate_const": int(translate_const),
                                                               "interpolation": modes[interpolation]})
        except (AssertionError, KeyError, ValueError) as e:
            raise ConfigError(f"ClipRandAugment.config_str={config_str!r} is not a timm RandAugment string "
                              f"(e.g. 'rand-m7-n4-mstd0.5-inc1'): {e}") from e
        self.config_str = config_str

    def transform(self, results: dict) -> dict:
        from PIL import Image

        state_py, state_np = random.getstate(), np.random.get_state()
        out = []
        for img in results["imgs"]:
            random.setstate(state_py)  # every frame draws the same ops, magnitudes and signs
            np.random.set_state(state_np)
            out.append(np.asarray(self.augment(Image.fromarray(img))))
        results["imgs"] = out
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(config_str={self.config_str!r})"


@DATASETS.register_module()
class CheckedRepeatAugDataset(RepeatAugDataset):
    """MMAction2's ``RepeatAugDataset`` (``num_repeats`` augmented copies of one decode) with the decode-failure
    accounting of ``CheckedVideoDataset``: a training video that fails is logged and replaced by another."""

    def __init__(self, *args, failure_log: str | None = None, num_repeats: int = 2, sample_once: bool = True,
                 **kwargs) -> None:
        self.failure_log = failure_log
        super().__init__(*args, num_repeats=num_repeats, sample_once=sample_once, **kwargs)

    def prepare_data(self, idx: int):
        from bench.data.mm import prepare_or_report

        return prepare_or_report(self, idx, super().prepare_data)


def vit_layer_id(name: str, num_layers: int, vit_prefix: str = "backbone.net.") -> int:
    """UMT's ``get_num_layer_for_vit`` on our parameter names: 0 for the embeddings, ``i + 1`` for block ``i``,
    ``num_layers + 1`` for everything else (final norm, heads, projections outside the ViT)."""
    if not name.startswith(vit_prefix):
        return num_layers + 1
    rel = name[len(vit_prefix):]
    if rel in NO_WEIGHT_DECAY or rel.startswith("patch_embed"):
        return 0
    m = re.match(r"blocks\.(\d+)\.", rel)
    return int(m.group(1)) + 1 if m else num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class VLCLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise lr decay as UMT: lr x ``layer_decay ** (num_layers + 1 - layer_id)``; no weight decay on 1-D
    parameters, biases and the positional / class tokens (UMT's ``get_parameter_groups``).

    ``paramwise_cfg``: ``layer_decay`` (UMT: 0.75), ``num_layers`` (the ViT's depth), ``vit_prefix`` (default
    ``backbone.net.``). Frozen parameters (the teacher) are left out.
    """

    def add_params(self, params: list, module, prefix: str = "", is_dcn_module=None) -> None:
        cfg = dict(self.paramwise_cfg)
        unknown = set(cfg) - {"layer_decay", "num_layers", "vit_prefix"}
        if unknown or "layer_decay" not in cfg or "num_layers" not in cfg:
            raise ConfigError(f"VLCLayerDecayOptimWrapperConstructor.paramwise_cfg={cfg}: needs layer_decay and "
                              f"num_layers (optional vit_prefix); unknown keys {sorted(unknown)}")
        decay, depth = float(cfg["layer_decay"]), int(cfg["num_layers"])
        vit = cfg.get("vit_prefix", "backbone.net.")
        if not 0 < decay <= 1 or depth < 1:
            raise ConfigError(f"layer_decay={decay} must be in (0, 1] and num_layers={depth} >= 1")
        blocks = {int(m.group(1)) for n, _ in module.named_parameters()
                  if (m := re.match(re.escape(vit) + r"blocks\.(\d+)\.", n))}
        if blocks and max(blocks) + 1 != depth:
            raise ConfigError(f"layer decay: num_layers={depth} but the ViT under {vit!r} has {max(blocks) + 1} "
                              f"blocks")
        wd = self.base_wd if self.base_wd is not None else 0.0
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            no_wd = p.ndim == 1 or name.endswith(".bias") or name.removeprefix(vit) in NO_WEIGHT_DECAY
            layer = vit_layer_id(name, depth, vit)
            params.append({"params": [p], "lr": self.base_lr * decay ** (depth + 1 - layer),
                           "weight_decay": 0.0 if no_wd else wd})
