"""The mAP of the Charades protocol (and ActivityNet's mAP) against cases computed by hand.

AP of a class: rank the videos by score; average, over its positive videos, the precision of the
ranking cut at that video (Charades_v1_classify.m, non-interpolated); mAP: mean over the classes
that have a positive video."""

from __future__ import annotations

import numpy as np
import pytest

import protocols  # noqa: F401  (registers every protocol)
from bench.errors import ConfigError
from protocols.base import build_protocol
from protocols.multilabel import map_of_dump, mean_ap

SCORES = np.array([[0.9, 0.2, 0.5],
                   [0.8, 0.7, 0.1],
                   [0.3, 0.6, 0.2],
                   [0.1, 0.4, 0.3]])
LABELS = np.array([[1, 1, 0],
                   [0, 0, 0],
                   [1, 0, 0],
                   [0, 1, 0]])


def test_map_of_a_hand_computed_multi_label_case():
    # class 0 ranked 0.9(+) 0.8(-) 0.3(+) 0.1(-): precisions at the positives 1/1 and 2/3 -> AP 5/6
    # class 1 ranked 0.7(-) 0.6(-) 0.4(+) 0.2(+): precisions 1/3 and 2/4 -> AP 5/12
    # class 2 has no positive video: left out of the mean
    assert mean_ap(SCORES, LABELS) == pytest.approx(100 * (5 / 6 + 5 / 12) / 2)


def test_map_of_a_single_label_dump(tmp_path):
    # ActivityNet: one label per video, mAP over the classes from BenchAccMetric's dump
    labels = np.array([0, 2, 0, 1])
    np.savez_compressed(tmp_path / "predictions_1view.npz", scores=SCORES, labels=labels)
    # class 0 (videos 0, 2): ranked 0.9(+) 0.8(-) 0.3(+) 0.1(-) -> 5/6; class 1 (video 3): 0.7(-) 0.6(-)
    # 0.4(+) 0.2(-) -> 1/3; class 2 (video 1): 0.5(-) 0.3(-) 0.2(-) 0.1(+) -> 1/4
    assert map_of_dump(tmp_path / "predictions_1view", 3) == pytest.approx(100 * (5 / 6 + 1 / 3 + 1 / 4) / 3)


@pytest.mark.parametrize("args, match", [({"views": "4"}, "views"), ({"average_clips": "max"}, "average_clips")])
def test_charades_protocol_refuses_bad_parameters(args, match):
    with pytest.raises(ConfigError, match=match):
        build_protocol("charades", args)


def test_charades_protocol_refuses_a_single_label_dataset(syn_k400):
    from bench.method import get_method
    from bench.spec import RunSpec

    spec = RunSpec("clip_meanpool", "charades", "syn_k400")
    with pytest.raises(ConfigError, match="needs a multi-label dataset"):
        build_protocol("charades").plan(spec, get_method("clip_meanpool"), syn_k400)
