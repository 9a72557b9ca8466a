"""Pipeline builders that the method configs call: the steps every video pipeline of this project shares.

A config imports what it needs after its ``_base_`` line (hence ``# noqa: E402``: MMEngine reads a config that
starts with ``_base_`` as an ordinary Python config, and drops imported functions from the resolved dict, so
only the lists they build remain). A base file cannot serve here: its lists are evaluated before the
inheriting config's ``num_frames``, ``img_size`` or ``meta_keys`` exist. The steps are MMAction2's transforms
(and this project's ``UniformSample``, ``RandomGrayscaleClip``, ``ClipRandAugment``, ``MemoizedClip``);
the builders only write their dicts, in the order MMAction2's own configs list them: decode, spatial steps,
``FormatShape``, pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: meta keys of PackActionInputs with the video id (methods that key caches or teachers by video)
VIDEO_META_KEYS = ("img_shape", "img_key", "video_id", "timestamp", "filename")


def decode(clip_len: int, test_mode: bool = False, sampler: Mapping[str, Any] | None = None) -> list[dict]:
    """DecordInit, one clip of ``clip_len`` frames (``UniformSample`` unless ``sampler`` names another),
    DecordDecode."""
    sample = dict(sampler or {"type": "UniformSample"})
    sample.update(clip_len=clip_len)
    if "num_clips" not in sample:
        sample["num_clips"] = 1
    if test_mode:
        sample["test_mode"] = True
    return [dict(type="DecordInit", io_backend="disk"), sample, dict(type="DecordDecode")]


def pack(meta_keys: Iterable[str] | None = None) -> dict:
    """FormatShape's successor: PackActionInputs, with ``meta_keys`` only when given (MMAction2's default otherwise)."""
    return dict(type="PackActionInputs") if meta_keys is None else dict(type="PackActionInputs", meta_keys=meta_keys)


def test_steps(crop: int, short_side: int | None = None) -> list[dict]:
    """Short side to ``short_side`` (default: the crop), centre crop, NCTHW."""
    return [dict(type="Resize", scale=(-1, short_side or crop)), dict(type="CenterCrop", crop_size=crop),
            dict(type="FormatShape", input_format="NCTHW")]


def test(clip_len: int, crop: int, short_side: int | None = None, meta_keys: Iterable[str] | None = None,
         sampler: Mapping[str, Any] | None = None) -> list[dict]:
    """The single-view test pipeline: decode in test mode, resize the short side, centre crop, pack."""
    return [*decode(clip_len, True, sampler), *test_steps(crop, short_side), pack(meta_keys)]


def multiscale_crop(size: int) -> dict:
    """TSN's / X-CLIP's multi-scale crop at ``size`` (scales 1, 0.875, 0.75, 0.66; corner and centre crops)."""
    return dict(type="MultiScaleCrop", input_size=size, scales=(1, 0.875, 0.75, 0.66), random_crop=False,
                max_wh_scale_gap=1)


def train(clip_len: int, size: int, crop: Mapping[str, Any], short_side: int = 256,
          flip: float | None = 0.5, before: Iterable[Mapping] = (), after: Iterable[Mapping] = (),
          meta_keys: Iterable[str] | None = None, sampler: Mapping[str, Any] | None = None) -> list[dict]:
    """The training pipeline: decode, ``before`` (clip-level steps on the decoded frames), short side to
    ``short_side``, ``crop``, resize to ``size`` x ``size``, a horizontal flip with probability ``flip``
    (None: none), ``after`` (steps on the final frames), NCTHW, pack."""
    steps = [*decode(clip_len, False, sampler), *map(dict, before), dict(type="Resize", scale=(-1, short_side)),
             dict(crop), dict(type="Resize", scale=(size, size), keep_ratio=False)]
    if flip is not None:
        steps.append(dict(type="Flip", flip_ratio=flip))
    return [*steps, *map(dict, after), dict(type="FormatShape", input_format="NCTHW"), pack(meta_keys)]


def with_clip_len(pipeline: Iterable[Mapping], clip_len: int) -> list[dict]:
    """``pipeline`` with every sampling step's ``clip_len`` set to ``clip_len`` (a frame-count variant)."""
    return [dict(step, clip_len=clip_len) if "clip_len" in step else step for step in pipeline]


def frame_variant(base: Mapping[str, Any], clip_len: int) -> tuple[list, list, dict, dict]:
    """A frame-count variant of the config ``base`` (a config's ``_base_``): its train and test pipelines with
    ``clip_len`` frames, and the loader fields that point at them (MMEngine merges them into the base's
    loaders key by key and replaces the pipeline lists whole).

    In a config: ``train_pipeline, test_pipeline, train_dataloader, test_dataloader = frame_variant(_base_, N)``.
    """
    train_steps = with_clip_len(base["train_pipeline"], clip_len)
    test_list = with_clip_len(base["test_pipeline"], clip_len)
    return (train_steps, test_list, *point_loaders(train_steps, test_list))


def point_loaders(train: list, test: list) -> tuple[dict, dict]:
    """The loader fields that point an inherited train and test loader at new pipelines (MMEngine merges them into
    the base's loaders key by key and replaces the lists whole):
    ``train_dataloader, test_dataloader = point_loaders(train_pipeline, test_pipeline)``."""
    return dict(dataset=dict(pipeline=train)), dict(dataset=dict(pipeline=test))


def loader(pipeline: list, batch_size: int, num_workers: int, shuffle: bool, test_mode: bool = False,
           dataset_type: str = "CheckedVideoDataset", dataset_fields: Mapping[str, Any] | None = None,
           **fields: Any) -> dict:
    """A whole loader: MMEngine's DefaultSampler, workers kept across epochs, a ``dataset_type`` dataset whose
    annotation list and video root the protocols set; ``dataset_fields`` and ``fields`` add to the dataset's and
    the loader's keys."""
    dataset = dict(type=dataset_type, **(dataset_fields or {}), ann_file="", data_prefix=dict(video=""),
                   pipeline=pipeline)
    if test_mode:
        dataset["test_mode"] = True
    return dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=True,
                sampler=dict(type="DefaultSampler", shuffle=shuffle), **fields, dataset=dataset)


def clip_data_preprocessor() -> dict:
    """MMAction2's ActionDataPreprocessor with OpenAI CLIP's pixel mean and std (0-255 scale)."""
    return dict(type="ActionDataPreprocessor", mean=[122.770938, 116.7460125, 104.09373615],
                std=[68.5005327, 66.6321579, 70.32316305], format_shape="NCTHW")


def random_resized_crop(area_range: tuple[float, float] | None = None) -> dict:
    """MMAction2's RandomResizedCrop (its default area range 0.08-1 unless ``area_range`` is given)."""
    return dict(type="RandomResizedCrop") if area_range is None else dict(type="RandomResizedCrop",
                                                                          area_range=area_range)
