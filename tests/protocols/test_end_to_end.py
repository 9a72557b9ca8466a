"""Every protocol end to end on CPU: the tiny baseline on the synthetic world, one record per run.

Also: bad input fails in ``job.prepare`` (before anything trains), and the same checkpoint
evaluated twice gives identical metrics.
"""

from __future__ import annotations

import pytest

import protocols  # noqa: F401  (registers every protocol)
from bench import job
from bench.errors import DataError
from bench.registry import PROTOCOLS
from bench.store import Store

# protocol -> (dataset, protocol args, expected episode names, headline metric)
CASES = {
    "supervised": ("syn_k400", {"views": "2x1", "average_clips": "score"}, ["main"], "top1"),
    "fewshot": ("syn_ucf", {"shots": 2}, ["2shot"], "top1"),
    "zeroshot": ("syn_k600", {"mode": "k600", "train_dataset": "syn_k400"}, ["train", "split1", "split2", "split3"],
                 "top1"),
    "ava": ("syn_ava", {"batch_size": 4}, ["main"], "mAP"),
    "linear_probe": ("syn_hmdb", {"splits": [1, 2]}, ["split1", "split2"], "top1"),
    # the miniature official Charades tree (fixture charades_imported), multi-label
    "charades": ("charades", {"views": "2x1"}, ["main"], "mAP"),
}


def test_every_registered_protocol_has_an_end_to_end_case():
    assert set(CASES) == set(PROTOCOLS._items)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_protocol_runs_end_to_end_and_writes_one_record(name, fresh_dirs, quick_spec, request):
    dataset, args, episodes, headline = CASES[name]
    if dataset == "charades":
        request.getfixturevalue("charades_imported")
    spec = quick_spec(name, dataset, **args)
    record = job.run(spec)
    assert Store().has(spec.run_id) and len(Store().records()) == 1
    assert record["protocol"] == name and record["protocol_version"]
    assert [e["episode"]["name"] for e in record["episodes"]] == episodes
    value = record["metrics"][headline]
    assert value is not None and 0 <= value <= 100
    for ep in record["episodes"]:
        assert ep["metrics"] and ep["episode"]["test"]["sha256"] and ep["episode"]["classes_sha256"]
    if name == "zeroshot":
        m = record["metrics"]
        assert m["num_episodes"] == 3 and set(m["per_episode"]) == {"split1", "split2", "split3"}
        assert "top1_std" in m and "top5_std" in m
        assert all(ep["metrics"]["init"]["loaded"] > 0 for ep in record["episodes"][1:])
    if name == "supervised":
        assert record["metrics"]["average_clips"] == "score" and record["metrics"]["views"] == "2x1"
    if name == "fewshot":
        episode = record["episodes"][0]["episode"]
        few_size = 2 * len(episode["classes"])
        assert episode["params"]["repeat"] == -(-episode["params"]["full_train_size"] // few_size)
    if name == "ava":
        assert {"mAP_pose", "mAP_object_interaction", "mAP_person_interaction"} <= set(record["metrics"])
    if name == "linear_probe":
        m = record["metrics"]
        assert m["top1"] == pytest.approx((m["top1_split1"] + m["top1_split2"]) / 2)


@pytest.mark.slow
def test_supervised_official_splits_report_each_split_and_the_mean(fresh_dirs, quick_spec):
    record = job.run(quick_spec("supervised", "syn_hmdb", splits=[1, 2]))
    assert [e["episode"]["name"] for e in record["episodes"]] == ["split1", "split2"]
    m = record["metrics"]
    for key in ("top1", "top5", "mean_class_acc", "top1_1view"):
        assert m[key] == pytest.approx((m[f"{key}_split1"] + m[f"{key}_split2"]) / 2)
    assert m["num_splits"] == 2 and m["num_test_videos"] == sum(
        e["metrics"]["num_test_videos"] for e in record["episodes"])


@pytest.mark.slow
def test_same_checkpoint_evaluated_twice_gives_identical_metrics(fresh_dirs, quick_spec):
    trained = quick_spec("supervised", "syn_ucf", train_split="train_split1", test_split="val_split1")
    job.run(trained)
    # the finished run's id as init_from: zero-shot evaluation only, under two different seeds (two run ids)
    first = job.run(quick_spec("zeroshot", "syn_ucf", seed=0, mode="full", init_from=trained.run_id))
    second = job.run(quick_spec("zeroshot", "syn_ucf", seed=1, mode="full", init_from=trained.run_id))
    assert first["run_id"] != second["run_id"]
    assert first["episodes"][0]["metrics"]["init"]["sha256"] == second["episodes"][0]["metrics"]["init"]["sha256"]
    for key in ("top1", "top5", "mean_class_acc"):
        assert first["metrics"][key] == second["metrics"][key]
    assert first["episodes"][0]["metrics"]["per_class"] == second["episodes"][0]["metrics"]["per_class"]


def test_k_larger_than_a_class_is_refused_before_training(fresh_dirs, quick_spec):
    spec = quick_spec("fewshot", "syn_ucf", shots=64)
    with pytest.raises(DataError, match="fewer than 64 training videos"):
        job.prepare(spec)


def test_zeroshot_target_overlapping_training_classes_is_refused_when_forbidden(fresh_dirs, quick_spec):
    spec = quick_spec("zeroshot", "syn_ucf", mode="full", train_dataset="syn_ucf", allow_overlap=False)
    with pytest.raises(DataError, match="target classes are training classes"):
        job.prepare(spec)
