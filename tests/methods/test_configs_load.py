"""Every method config loads through MMEngine (``_base_`` inheritance resolved) and has what the harness reads.

Cheap (no model is built): it catches a broken base or a config that lost a field when the shared
pipelines and schedules moved to ``methods/_base_/`` and the builders of ``methods/pipelines.py`` and
``methods/schedules.py`` (issue 25; that resolved configs are unchanged
by the move is shown by ``benchmarks/config_dump.py`` before/after, in the issue's note).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(ROOT.glob("methods/*/configs/*.py"))
BASES = sorted((ROOT / "methods" / "_base_").rglob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_with_its_bases(path):
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    for key in ("model", "train_dataloader", "test_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        assert key in cfg, f"{path.relative_to(ROOT)} has no {key!r} after inheritance"
    for loader in ("train_dataloader", "test_dataloader"):
        pipeline = cfg[loader]["dataset"]["pipeline"]
        assert pipeline and pipeline[-1]["type"] == "PackActionInputs", (
            f"{path.relative_to(ROOT)}: {loader}.dataset.pipeline does not end in PackActionInputs: {pipeline}")


def test_every_base_is_inherited():
    """A base no config lists is dead weight (or a typo in a ``_base_`` path)."""
    text = "\n".join(p.read_text() for p in CONFIGS)
    unused = [str(b.relative_to(ROOT)) for b in BASES
              if f"_base_/{b.relative_to(ROOT / 'methods' / '_base_').as_posix()}" not in text]
    assert not unused, f"bases no method config inherits: {unused}"


def test_pipeline_builders_write_mmaction2_lists_as_a_config_would():
    """``methods/pipelines.py`` and ``methods/schedules.py`` (what the configs call) against lists written out by
    hand in MMAction2's config form: a builder that drops, adds or reorders a step changes every config."""
    from methods import pipelines, schedules

    decode = [dict(type="DecordInit", io_backend="disk"), dict(type="UniformSample", clip_len=16, num_clips=1),
              dict(type="DecordDecode")]
    keys = ("img_shape", "filename")
    train = pipelines.train(16, 224, pipelines.random_resized_crop(), before=[dict(type="ClipRandAugment")],
                            after=[dict(type="RandomGrayscaleClip", p=0.2)], meta_keys=keys)
    assert train == [*decode, dict(type="ClipRandAugment"), dict(type="Resize", scale=(-1, 256)),
                     dict(type="RandomResizedCrop"), dict(type="Resize", scale=(224, 224), keep_ratio=False),
                     dict(type="Flip", flip_ratio=0.5), dict(type="RandomGrayscaleClip", p=0.2),
                     dict(type="FormatShape", input_format="NCTHW"), dict(type="PackActionInputs", meta_keys=keys)]
    # the synthetic world's: no flip, short side the frame size, MMAction2's default meta keys
    assert pipelines.train(8, 64, pipelines.random_resized_crop((0.7, 1.0)), short_side=64, flip=None)[3:] == [
        dict(type="Resize", scale=(-1, 64)), dict(type="RandomResizedCrop", area_range=(0.7, 1.0)),
        dict(type="Resize", scale=(64, 64), keep_ratio=False), dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs")]
    test = pipelines.test(8, 224, short_side=256, sampler=dict(type="SampleFrames", frame_interval=4))
    assert test == [dict(type="DecordInit", io_backend="disk"),
                    dict(type="SampleFrames", frame_interval=4, clip_len=8, num_clips=1, test_mode=True),
                    dict(type="DecordDecode"), dict(type="Resize", scale=(-1, 256)),
                    dict(type="CenterCrop", crop_size=224), dict(type="FormatShape", input_format="NCTHW"),
                    dict(type="PackActionInputs")]
    # a frame-count variant changes the sampler's clip length only, in both lists, and points the loaders at them
    tr, te, tr_loader, te_loader = pipelines.frame_variant(dict(train_pipeline=train, test_pipeline=test), 32)
    assert [s.get("clip_len") for s in tr] == [None, 32] + [None] * 9 and te[1]["clip_len"] == 32
    assert [s for s in tr if "clip_len" not in s] == [s for s in train if "clip_len" not in s]
    assert tr_loader == {"dataset": {"pipeline": tr}} and te_loader == {"dataset": {"pipeline": te}}
    assert pipelines.loader(test, batch_size=4, num_workers=2, shuffle=False, test_mode=True) == dict(
        batch_size=4, num_workers=2, persistent_workers=True, sampler=dict(type="DefaultSampler", shuffle=False),
        dataset=dict(type="CheckedVideoDataset", ann_file="", data_prefix=dict(video=""), pipeline=test,
                     test_mode=True))
    # 30 epochs, 5 of warm-up from 0.01 x lr, cosine to 0: T_max 25 from epoch 5 to 30
    assert schedules.warmup_cosine(30, 5, start_factor=0.01) == [
        dict(type="LinearLR", start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
        dict(type="CosineAnnealingLR", T_max=25, eta_min=0, by_epoch=True, begin=5, end=30,
             convert_to_iter_based=True)]


def test_configs_that_call_the_builders_are_read_as_plain_configs():
    """A config that imports ``methods.pipelines`` must keep ``_base_`` first: MMEngine reads a file whose first
    statement imports a non-builtin module as a lazy-import config, which cannot inherit a plain one."""
    from mmengine.config import Config

    callers = [p for p in [*CONFIGS, *BASES] if "from methods import" in p.read_text()]
    assert len(callers) >= 20
    for path in callers:
        assert not Config._is_lazy_import(str(path)), f"{path.relative_to(ROOT)} would be read as a lazy-import config"
