"""Bootstrap CIs, paired differences and McNemar's test (issue 23), against direct computations by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mmaction.evaluation.functional import mean_class_accuracy, top_k_accuracy

from bench import stats


def _set(n=200, classes=10, acc=0.7, seed=1):
    """A hand-built prediction set: labels, and top-5 lists whose first entry is right for a fraction ``acc``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    right = rng.random(n) < acc
    top1 = np.where(right, labels, (labels + 1 + rng.integers(0, classes - 1, n)) % classes)
    others = np.array([[c for c in rng.permutation(classes) if c != t][:4] for t in top1])
    return labels, np.column_stack([top1, others])


def _scores(topk, classes):
    """A score matrix whose ranking is ``topk`` (5, 4, ... for the listed classes, 0 elsewhere)."""
    s = np.zeros((len(topk), classes))
    for i, row in enumerate(topk):
        s[i, row] = np.arange(len(row), 0, -1)
    return s


def test_metric_values_equal_mmaction2s_functions():
    labels, topk = _set()
    s = _scores(topk, 10)
    got = stats.metric_values(labels, topk)
    top1, top5 = top_k_accuracy(s, labels, (1, 5))
    assert got["top1"] == 100 * top1 and got["top5"] == 100 * top5
    assert got["mean_class_acc"] == pytest.approx(100 * mean_class_accuracy(s, labels), abs=1e-12)
    # a class that is only predicted counts 0 in MMAction2's mean (classes 0, 1 true; 2 only predicted)
    lab, pred = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    assert stats.mean_class_acc(lab, pred) == pytest.approx(100 * (0.5 + 1.0 + 0.0) / 3)


def test_bootstrap_ci_matches_a_direct_computation():
    labels, topk = _set()
    n, b = len(labels), stats.RESAMPLES
    # top-1: the documented draw, one resample at a time, accuracy by MMAction2
    rng = np.random.default_rng(stats.SEED)
    idx = rng.integers(0, n, size=(b, n))
    s = _scores(topk, 10)
    direct = [100 * top_k_accuracy(s[i], labels[i], (1,))[0] for i in idx]
    assert stats.bootstrap_ci([(labels, topk)], "top1") == pytest.approx(list(np.percentile(direct, [2.5, 97.5])))
    # mean class accuracy: each class's videos resampled within the class, classes in label order
    rng = np.random.default_rng(stats.SEED)
    blocks = [np.flatnonzero(labels == c)[rng.integers(0, 20, size=(b, 20))] for c in range(10)]
    strat = np.concatenate(blocks, axis=1)
    direct = [100 * mean_class_accuracy(s[i], labels[i]) for i in strat]
    got = stats.bootstrap_ci([(labels, topk)], "mean_class_acc")
    assert got == pytest.approx(list(np.percentile(direct, [2.5, 97.5])))
    # and the top-1 interval has the width the normal approximation predicts: 1.96 * sqrt(p(1-p)/n)
    p = (topk[:, 0] == labels).mean()
    lo, hi = stats.bootstrap_ci([(labels, topk)], "top1")
    assert (hi - lo) / 2 == pytest.approx(100 * 1.96 * math.sqrt(p * (1 - p) / n), rel=0.15)


def test_ci_of_a_mean_over_episodes_is_narrower_than_one_episode():
    e1, e2 = _set(seed=1), _set(seed=2)
    lo1, hi1 = stats.bootstrap_ci([e1], "top1")
    lo, hi = stats.bootstrap_ci([e1, e2], "top1")
    mean = (stats.metric_values(*e1)["top1"] + stats.metric_values(*e2)["top1"]) / 2
    assert lo <= mean <= hi and hi - lo < hi1 - lo1


def test_a_row_against_itself_differs_by_zero():
    labels, topk = _set()
    for m in stats.METRICS:
        d = stats.paired_bootstrap([(labels, topk)], [(labels, topk)], m)
        assert d["diff"] == 0 and d["ci"][0] <= 0 <= d["ci"][1] and not d["significant"]
    right = topk[:, 0] == labels
    assert stats.mcnemar_exact(right, right) == {"only_a": 0, "only_b": 0, "p": 1.0}


def _better(labels, topk, gain, lose=0, seed=3):
    """``topk`` with ``gain`` wrong videos made right and ``lose`` right ones made wrong."""
    rng = np.random.default_rng(seed)
    out = topk.copy()
    wrong, right = np.flatnonzero(out[:, 0] != labels), np.flatnonzero(out[:, 0] == labels)
    for i in rng.choice(wrong, gain, replace=False):
        j = np.flatnonzero(out[i] == labels[i])
        out[i, [0, *j]] = out[i, [*j, 0]] if len(j) else out[i, [0]]
        out[i, 0] = labels[i]
    for i in rng.choice(right, lose, replace=False):
        out[i, 0] = (labels[i] + 1) % 10
    return out


def test_ten_points_better_on_200_videos_is_significant_and_half_a_point_is_not():
    labels, topk = _set(n=200)
    a = [(labels, topk)]
    ten = stats.paired_bootstrap(a, [(labels, _better(labels, topk, 20))], "top1")
    assert ten["diff"] == pytest.approx(10.0) and ten["significant"] and ten["ci"][0] > 0
    half = stats.paired_bootstrap(a, [(labels, _better(labels, topk, 1))], "top1")
    assert half["diff"] == pytest.approx(0.5) and not half["significant"] and half["ci"][0] <= 0 <= half["ci"][1]
    mixed = stats.paired_bootstrap(a, [(labels, _better(labels, topk, 11, 10))], "top1")
    assert mixed["diff"] == pytest.approx(0.5) and not mixed["significant"]


def test_mcnemar_p_equals_the_exact_binomial_value():
    # 2 videos only A gets right, 8 only B, 5 both, 3 neither: p = 2 * P(X <= 2), X ~ Bin(10, 1/2)
    a = np.array([1] * 2 + [0] * 8 + [1] * 5 + [0] * 3, bool)
    b = np.array([0] * 2 + [1] * 8 + [1] * 5 + [0] * 3, bool)
    want = 2 * sum(math.comb(10, k) for k in range(3)) / 2 ** 10
    got = stats.mcnemar_exact(a, b)
    assert got["only_a"] == 2 and got["only_b"] == 8 and got["p"] == pytest.approx(want, abs=1e-12)
    # balanced discordance: p = 1
    assert stats.mcnemar_exact(a[:4], b[[2, 3, 0, 1]])["p"] == pytest.approx(1.0)


def test_seed_level_paired_difference():
    d = stats.seed_paired([70.0, 71.0, 72.0], [71.0, 73.0, 75.0])  # differences 1, 2, 3: mean 2, sd 1
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 dof) * sd / sqrt(n)
    assert d["diff"] == pytest.approx(2.0) and d["ci"] == pytest.approx([2 - half, 2 + half])
    assert not d["significant"] and d["seeds"] == 3  # 2 - 2.48 < 0: three seeds this spread cannot tell
    tight = stats.seed_paired([70.0, 71.0, 72.0], [72.0, 73.1, 73.9])  # differences 2.0, 2.1, 1.9
    assert tight["significant"] and tight["ci"][0] > 0
    with pytest.raises(ValueError, match="two seeds"):
        stats.seed_paired([1.0], [2.0])
