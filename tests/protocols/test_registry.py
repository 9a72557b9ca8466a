"""Every registered protocol: named, versioned, validated parameters, refuses unknown ones."""

from __future__ import annotations

import pytest

import protocols  # noqa: F401  (registers every protocol)
from bench.errors import ConfigError
from bench.method import ALL_PROTOCOLS
from bench.registry import PROTOCOLS
from protocols.base import build_protocol

NAMES = sorted(PROTOCOLS._items)


def test_every_protocol_the_harness_knows_is_registered():
    assert set(NAMES) == set(ALL_PROTOCOLS)


@pytest.mark.parametrize("name", NAMES)
def test_protocol_builds_with_its_defaults(name):
    proto = build_protocol(name)
    assert proto.name == name and proto.version
    assert set(proto.args) == set(proto.defaults)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_refused_naming_it(name):
    with pytest.raises(ConfigError, match="no_such_param"):
        build_protocol(name, {"no_such_param": 1})


@pytest.mark.parametrize("name, args, match", [
    ("supervised", {"average_clips": "max"}, "average_clips"),
    ("supervised", {"views": "3"}, "views"),
    ("fewshot", {"shots": 0}, "shots"),
    ("fewshot", {"list": "random"}, "list"),
    ("zeroshot", {"mode": "third"}, "mode"),
    ("zeroshot", {"train_dataset": "syn_k400", "init_from": "x.pth"}, "not both"),
    ("linear_probe", {"splits": [4]}, "splits"),
    ("ava", {"proposal_thr": 2}, "proposal_thr"),
    ("supervised", {"splits": [4]}, "splits"),
    ("supervised", {"splits": [1, 1]}, "distinct"),
    ("supervised", {"splits": [1, 2], "train_split": "train_split1"}, "not both"),
    ("charades", {"views": "3"}, "views"),
])
def test_bad_parameter_values_are_refused(name, args, match):
    with pytest.raises(ConfigError, match=match):
        build_protocol(name, args)
