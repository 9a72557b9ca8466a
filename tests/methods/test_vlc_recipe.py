"""vlc's UMT recipe parts: clip-level RandAugment, repeated augmentation, layer-wise lr decay, the real configs."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from bench.errors import ConfigError
from methods.vlc.recipe import CheckedRepeatAugDataset, ClipRandAugment, VLCLayerDecayOptimWrapperConstructor


def test_clip_randaugment_is_timms_randaugment_with_one_draw_per_clip():
    from PIL import Image
    from timm.data.auto_augment import rand_augment_transform

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (32, 40, 3), dtype=np.uint8) for _ in range(4)]
    aug = ClipRandAugment("rand-m7-n4-mstd0.5-inc1", translate_const=14)
    ref_aug = rand_augment_transform("rand-m7-n4-mstd0.5-inc1", {"translate_const": 14,
                                                                "interpolation": Image.BICUBIC})
    for seed in range(5):
        random.seed(seed)
        np.random.seed(seed)
        state_py, state_np = random.getstate(), np.random.get_state()
        out = aug.transform({"imgs": [f.copy() for f in frames]})["imgs"]
        # reference: timm's transform on each frame, every frame from the clip's starting random state
        for f, o in zip(frames, out, strict=True):
            random.setstate(state_py)
            np.random.set_state(state_np)
            assert np.array_equal(np.asarray(ref_aug(Image.fromarray(f))), o)
    same = aug.transform({"imgs": [frames[0].copy() for _ in range(3)]})["imgs"]
    assert all(np.array_equal(same[0], x) for x in same[1:])  # identical frames stay identical: one op chain
    with pytest.raises(ConfigError, match="interpolation"):
        ClipRandAugment(interpolation="nearest")


class _ToyViT(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(4, 4)
        self.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(depth))
        self.fc_norm = nn.LayerNorm(4)


class _Toy(nn.Module):
    def __init__(self, depth: int = 2) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.net = _ToyViT(depth)
        self.cls_head = nn.Linear(4, 3)
        self.teacher = nn.Linear(4, 4).requires_grad_(False)


def test_layer_decay_groups_follow_umts_assigner():
    # UMT: scale = 0.75 ** (L + 1 - layer_id); embeddings 0, block i -> i + 1, the rest L + 1; no decay for 1-D,
    # biases, pos_embed. L = 2 by hand: patch_embed 0.75^3, block 0 0.75^2, block 1 0.75, fc_norm and head 1.
    model = _Toy(2)
    ctor = VLCLayerDecayOptimWrapperConstructor(
        dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05)),
        dict(layer_decay=0.75, num_layers=2))
    groups = ctor(model).optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    got = {names[id(g["params"][0])]: (round(g["lr"], 10), g["weight_decay"]) for g in groups}
    expected = {
        "backbone.net.pos_embed": (0.75 ** 3, 0.0), "backbone.net.patch_embed.weight": (0.75 ** 3, 0.05),
        "backbone.net.patch_embed.bias": (0.75 ** 3, 0.0), "backbone.net.blocks.0.weight": (0.75 ** 2, 0.05),
        "backbone.net.blocks.0.bias": (0.75 ** 2, 0.0), "backbone.net.blocks.1.weight": (0.75, 0.05),
        "backbone.net.blocks.1.bias": (0.75, 0.0), "backbone.net.fc_norm.weight": (1.0, 0.0),
        "backbone.net.fc_norm.bias": (1.0, 0.0), "cls_head.weight": (1.0, 0.05), "cls_head.bias": (1.0, 0.0),
    }
    assert got == {k: (round(v[0], 10), v[1]) for k, v in expected.items()}  # the frozen teacher is left out
    with pytest.raises(ConfigError, match="num_layers=3 but the ViT"):
        VLCLayerDecayOptimWrapperConstructor(dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1.0)),
                                             dict(layer_decay=0.75, num_layers=3))(model)


def test_repeated_augmentation_decodes_once_and_gives_two_clips(syn_k400, tmp_path):
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    root = syn_k400.video_root
    ann = tmp_path / "train.txt"
    ann.write_text("videos/train_000_000.mp4 0\nvideos/missing.mp4 1\n")
    log = tmp_path / "failures.jsonl"
    pipeline = [dict(type="DecordInit"), dict(type="UniformSample", clip_len=4, num_clips=1),
                dict(type="DecordDecode"), dict(type="Resize", scale=(32, 32), keep_ratio=False),
                dict(type="Flip", flip_ratio=0.5), dict(type="FormatShape", input_format="NCTHW"),
                dict(type="PackActionInputs", meta_keys=("frame_inds", "flip"))]
    ds = CheckedRepeatAugDataset(str(ann), pipeline, data_prefix=dict(video=str(root)), failure_log=str(log))
    clips = ds.prepare_data(0)
    assert len(clips) == 2 and all(c["inputs"].shape == (1, 3, 4, 32, 32) for c in clips)
    inds = [c["data_samples"].metainfo["frame_inds"] for c in clips]  # UMT num_sample: same frames, twice
    assert np.array_equal(inds[0], inds[1])
    assert ds.prepare_data(1) is None and "missing.mp4" in json.loads(log.read_text().splitlines()[0])["path"]


def test_real_vlc_configs_carry_umts_recipe():
    from bench.method import load_config

    for size in ("umt_b16_8f", "umt_b16_16f", "umt_b16_32f", "videomae_b16_16f"):
        cfg = load_config("vlc", size)
        steps = [s["type"] for s in cfg.train_dataloader.dataset.pipeline]
        assert steps[:4] == ["DecordInit", steps[1], "DecordDecode", "ClipRandAugment"], size
        erase = next(s for s in cfg.train_dataloader.dataset.pipeline if s["type"] == "RandomErasing")
        assert erase["erase_prob"] == 0.25 and erase["mode"] == "rand"
        assert cfg.train_dataloader.dataset.type == "CheckedRepeatAugDataset"
        assert cfg.train_dataloader.dataset.num_repeats == 2
        assert cfg.optim_wrapper.paramwise_cfg == dict(layer_decay=0.75, num_layers=12)
        assert cfg.optim_wrapper.get("clip_grad") is None
