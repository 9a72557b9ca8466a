"""The world's knowledge is real: tiny CLIP zero-shot on unseen classes, motion needs a temporal model.

Sizes are ``tiny`` (session BENCH_HOME, see tests/conftest.py); seeds are fixed, so the numbers are
deterministic and the margins guard against regressions of the generator or the training.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.data.synthetic import render, world
from bench.data.synthetic.sizes import get_size


@pytest.mark.slow
def test_tiny_clip_zero_shot_on_unseen_classes_beats_chance_threefold() -> None:
    from bench.data.synthetic.tiny_clip import ARCH, tiny_clip_weights, zero_shot_unseen
    from bench.models.clip import create_clip

    path = tiny_clip_weights("tiny")
    model = create_clip(ARCH, str(path))  # the same loading path as real CLIP weights
    result = zero_shot_unseen(model, "tiny")
    assert result["num_prompts"] >= 4
    assert result["accuracy"] >= 3 * result["chance"], result


def _reverse_pair() -> tuple[world.ClassSpec, world.ClassSpec]:
    """Two classes of the K400-like set that differ only in motion, one the reverse of the other."""
    for size in ("tiny", "small"):
        classes = world.plan_classes(get_size(size).class_counts(), 0, fixed_scene=("syn_k600",))["syn_k400"]
        for a in classes:
            for b in classes:
                if world.REVERSE.get(a.motion) == b.motion and a.static == b.static:
                    return a, b
    raise AssertionError("the K400-like plans have no reverse motion pair")


def _clips(spec: world.ClassSpec, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([render.render_clip(render.sample_clip(spec, rng, 16, 0.0), 32) for _ in range(n)])


class FrameModel(nn.Module):
    """Per-frame CNN features, then either a temporal convolution (order-aware) or a mean over frames."""

    def __init__(self, temporal: bool) -> None:
        super().__init__()
        self.temporal = temporal
        self.frame = nn.Sequential(nn.Conv2d(3, 8, 5, 2, 2), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
                                   nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(256, 32), nn.ReLU())
        self.time = nn.Conv1d(32, 32, 3, padding=1)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, 3, H, W)
        b, t = x.shape[:2]
        f = self.frame(x.flatten(0, 1)).view(b, t, -1)
        if self.temporal:
            f = torch.relu(self.time(f.transpose(1, 2))).transpose(1, 2)
        return self.head(f.mean(1))


def _train_eval(temporal: bool, x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor) -> float:
    torch.manual_seed(0)
    model = FrameModel(temporal)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(len(x), (32,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((model(xt).argmax(-1) == yt).float().mean())


@pytest.mark.slow
def test_motion_only_classes_need_a_temporal_model() -> None:
    torch.set_num_threads(1)
    a, b = _reverse_pair()

    def data(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        clips = np.concatenate([_clips(a, n, seed), _clips(b, n, seed + 1)])
        x = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float() / 255.0
        return x, torch.tensor([0] * n + [1] * n)

    x, y = data(1, 64)
    xt, yt = data(100, 40)
    temporal = _train_eval(True, x, y, xt, yt)
    averaged = _train_eval(False, x, y, xt, yt)
    assert temporal >= 0.85, (temporal, averaged)
    assert averaged <= 0.7, (temporal, averaged)  # frame order is the only cue: ~chance (0.5)


def test_reverse_pairs_show_the_same_frames_in_opposite_order() -> None:
    """With the same nuisance draw, a reverse pair's frames are the time-reversal of each other."""
    spec = world.ClassSpec("square", "red", "slide left", "none", "plain", "grey")
    left = render.render_clip(render.sample_clip(spec, np.random.default_rng(3), 16, 0.0), 32)
    spec_r = world.ClassSpec("square", "red", "slide right", "none", "plain", "grey")
    right = render.render_clip(render.sample_clip(spec_r, np.random.default_rng(3), 16, 0.0), 32)
    assert not np.array_equal(left, right)
    diff = np.abs(left[::-1].astype(int) - right.astype(int))
    assert np.median(diff) <= 8  # same frames up to pixel noise and camera shake


def test_tiny_video_backbone_forward_and_mmaction_registry() -> None:
    from mmaction.registry import MODELS

    from bench.models.tiny_video import TinyVideoViT

    model = MODELS.build(dict(type="TinyVideoViT", num_frames=8, image_size=32, patch_size=8, embed_dim=32,
                              depth=1, num_heads=2))
    assert isinstance(model, TinyVideoViT)
    out = model(torch.randn(2, 3, 8, 32, 32))
    assert out.shape == (2, 32)
    with pytest.raises(ValueError, match="tubelet"):
        TinyVideoViT(num_frames=7, tubelet=2)


@pytest.mark.slow
def test_tiny_video_weights_load_into_the_backbone() -> None:
    from bench.data.synthetic.video_pretrain import BACKBONE, pretrained_weights
    from bench.models.tiny_video import TinyVideoViT, load_pretrained

    cfg = get_size("tiny")
    model = load_pretrained(TinyVideoViT(cfg.num_frames, cfg.resolution, **BACKBONE), pretrained_weights("tiny"))
    assert model(torch.rand(1, 3, cfg.num_frames, cfg.resolution, cfg.resolution)).shape == (1, BACKBONE["embed_dim"])


@pytest.mark.slow
def test_prepare_with_two_jobs_builds_the_same_bytes(tmp_path, monkeypatch) -> None:
    """``bench data prepare --jobs 2`` trains the tiny CLIP in a second process: every file's sha256 must
    equal the one-process build of the session world (built here first, in this process, if missing)."""
    from bench.data.synthetic import prepare, storage
    from bench.data.synthetic.tiny_clip import tiny_clip_weights
    from bench.data.synthetic.video_pretrain import pretrained_weights

    parts = ("syn_k600", "syn_pretrain", "tiny_video", "tiny_clip")
    serial = {"tiny_clip": tiny_clip_weights("tiny").parent, "tiny_video": pretrained_weights("tiny").parent}
    serial.update({p: storage.part_dir("tiny", p) for p in ("syn_k600", "syn_pretrain")})
    expected = {p: storage.load_json(serial[p] / storage.MANIFEST)["files"] for p in parts}
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    seen = []
    results = prepare.prepare("tiny", parts, jobs=2, report=lambda r: seen.append(r.part))
    assert seen == ["syn_k600", "syn_pretrain", "tiny_video", "tiny_clip"]  # the side part is reported last
    assert [r.status for r in results] == ["built"] * 4
    def untimed(root) -> dict:  # train_stats.json records how long training took, which no seed fixes
        return {k: v for k, v in storage.load_json(root / "train_stats.json").items() if not k.endswith("seconds")}

    for r in results:
        assert str(r.path).startswith(str(tmp_path))
        got = storage.load_json(r.path / storage.MANIFEST)["files"]
        if r.part in serial and r.part.startswith("tiny_"):
            assert untimed(r.path) == untimed(serial[r.part]), r.part
            got.pop("train_stats.json"), expected[r.part].pop("train_stats.json")
        assert got == expected[r.part], r.part
    # built: nothing to train, no second process
    assert [r.status for r in prepare.prepare("tiny", parts, jobs=2)] == ["verified"] * 4
