"""MMAction2 glue: MemoizedClip returns exactly what its sub-pipeline returns, and refuses random steps."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.catalog import read_annotation_list
from bench.data.mm import MemoizedClip
from bench.errors import ConfigError

DECODE = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=4, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, 32)),
    dict(type="CenterCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCTHW"),
]


def _results(syn_k400):
    video, label = read_annotation_list(syn_k400.split_file("val"))[0]
    return dict(filename=str(syn_k400.video_root / video), label=label, start_index=0, modality="RGB")


def test_memoized_clip_equals_the_plain_pipeline_and_is_reused(syn_k400):
    from mmcv.transforms import Compose

    import bench.data.mm  # noqa: F401  (registers the transform)

    MemoizedClip._cache.clear()
    from mmaction.registry import TRANSFORMS

    plain = Compose([TRANSFORMS.build(s) for s in DECODE])(_results(syn_k400))
    memo = MemoizedClip(pipeline=DECODE)
    first = memo(_results(syn_k400))
    second = memo(_results(syn_k400))
    assert np.array_equal(first["imgs"], plain["imgs"]) and np.array_equal(second["imgs"], plain["imgs"])
    assert len(MemoizedClip._cache) == 1
    second["imgs"][:] = 0  # a consumer writing into its array does not corrupt the cache
    assert np.array_equal(memo(_results(syn_k400))["imgs"], plain["imgs"])


@pytest.mark.parametrize("step", [dict(type="RandomResizedCrop"), dict(type="Flip", flip_ratio=0.5),
                                  dict(type="UniformSample", clip_len=4, num_clips=1)])
def test_memoized_clip_refuses_random_steps(step):
    with pytest.raises(ConfigError, match="MemoizedClip"):
        MemoizedClip(pipeline=[dict(type="DecordInit"), step])
