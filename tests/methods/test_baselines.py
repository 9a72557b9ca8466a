"""The clip_meanpool baseline: MMAction2's inference API, the real-size config, zero-shot scoring."""

from __future__ import annotations

import pytest
import torch

from bench.method import get_method


@pytest.mark.slow
def test_init_and_inference_recognizer_on_a_synthetic_mp4(syn_k400):
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench.data.catalog import read_annotation_list

    config = str(get_method("clip_meanpool").config_path("tiny"))
    model = init_recognizer(config, device="cpu")
    video, label = read_annotation_list(syn_k400.split_file("val"))[0]
    result = inference_recognizer(model, str(syn_k400.video_root / video))
    scores = result.pred_scores.item
    assert scores.shape == (len(syn_k400.classes),)
    assert torch.isfinite(scores).all()


@pytest.mark.slow
def test_vit_b16_8f_config_builds_with_clip_b16_image_encoder(monkeypatch, tmp_path):
    """The real-size config builds (random init when no weights file) and its image encoder is CLIP ViT-B/16."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from bench.method import load_config

    register_all_modules()
    cfg = load_config("clip_meanpool", "b16_8f")
    assert cfg.num_frames == 8 and cfg.img_size == 224
    cfg.model.backbone.clip_weights = None
    cfg.model.cls_head.clip_weights = None
    cfg.model.cls_head.class_names = ["a", "b", "c"]
    cfg.model.cls_head.templates = ["{}"]
    model = MODELS.build(cfg.model)
    n = sum(p.numel() for p in model.backbone.visual.parameters())
    assert 85.5e6 < n < 86.5e6, n  # CLIP ViT-B/16 image encoder: 86.2 M
    x = torch.zeros(1, 3, 8, 224, 224)
    with torch.no_grad():
        assert model.backbone(x).shape == (1, 512)


def test_zero_shot_scoring_of_new_class_names():
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401  (registers the baseline's modules)

    register_all_modules()
    head = MODELS.build(dict(type="CLIPTextHead", clip_arch="vlbench-tiny-vit", clip_weights=None,
                             class_names=["a", "b"], templates=["{}", "a video of {}."]))
    feats = torch.randn(3, 64)
    assert head(feats).shape == (3, 2)
    head.set_class_names(["x", "y", "z", "w"])
    assert head(feats).shape == (3, 4) and head.num_classes == 4
    with pytest.raises(Exception, match="exactly one"):
        MODELS.build(dict(type="CLIPTextHead", clip_arch="vlbench-tiny-vit", class_names=["a"], templates=["no slot"]))
