"""Statistics over per-video predictions: bootstrap confidence intervals, paired differences, McNemar's test.

All intervals are percentile bootstrap intervals over test videos (Efron & Tibshirani, ch. 13):
``RESAMPLES`` resamples drawn with ``numpy.random.default_rng(SEED)``, the 2.5th and 97.5th percentiles
(``numpy.percentile``, linear interpolation) of the resampled metric. The resample protocol is fixed so
that a record's interval is reproducible from its prediction file:

- top-1 / top-5: ``idx = rng.integers(0, n, size=(RESAMPLES, n))``, one row of video indices per resample;
- mean class accuracy: stratified by true class, so that every resample keeps each class's number of test
  videos (a class never drops out of the mean): for each class in ascending label order, a
  ``rng.integers(0, n_c, size=(RESAMPLES, n_c))`` block of indices into that class's videos.

Metrics follow MMAction2 (``mmaction.evaluation.functional``): top-k is the label being among the k
highest scores; mean class accuracy is ``mean_class_accuracy``: the mean, over every class that is a true
label *or a prediction*, of hits / true count (a class only predicted counts 0).

A protocol with several test episodes (three splits, half-class zero-shot episodes) reports the mean of
the episodes; its interval resamples each episode's videos independently and takes the mean of the
resampled episode metrics (the CI of the mean). Paired comparisons resample the same video indices for
both runs (the paired bootstrap of Koehn 2004 / Berg-Kirkpatrick et al. 2012), so the difference's
interval reflects only the videos on which the runs disagree. McNemar's exact test is the two-sided
binomial test (``scipy.stats.binomtest``, p = 0.5) of the discordant pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 95.0
METRICS = ("top1", "top5", "mean_class_acc")


def correct_topk(labels: np.ndarray, topk: np.ndarray, k: int) -> np.ndarray:
    """Per video: whether its label is among its first ``k`` predicted classes (``topk``: (N, >=k), best first)."""
    return (np.asarray(topk)[:, :k] == np.asarray(labels)[:, None]).any(axis=1)


def mean_class_acc(labels: np.ndarray, pred: np.ndarray) -> float:
    """MMAction2's ``mean_class_accuracy`` (percent) of top-1 predictions ``pred`` against ``labels``."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    classes = np.union1d(labels, pred)
    hits = np.array([np.sum((labels == c) & (pred == c)) for c in classes], dtype=float)
    counts = np.array([np.sum(labels == c) for c in classes], dtype=float)
    acc = np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)
    return 100.0 * float(np.mean(acc))


def metric_values(labels: np.ndarray, topk: np.ndarray) -> dict[str, float]:
    """top1, top5 and mean class accuracy (percent) of one episode's predictions, as MMAction2 computes them."""
    k5 = min(5, topk.shape[1])
    return {"top1": 100.0 * float(correct_topk(labels, topk, 1).sum() / len(labels)),
            "top5": 100.0 * float(correct_topk(labels, topk, k5).sum() / len(labels)),
            "mean_class_acc": mean_class_acc(labels, topk[:, 0])}


def resample_indices(n: int, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, n) video indices drawn with replacement."""
    return rng.integers(0, n, size=(resamples, n))


def stratified_indices(labels: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, n) indices that resample each class's videos within the class (classes in label order)."""
    labels = np.asarray(labels)
    blocks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        blocks.append(members[rng.integers(0, len(members), size=(resamples, len(members)))])
    return np.concatenate(blocks, axis=1)


def _mca_rows(labels: np.ndarray, pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean class accuracy of each resample (rows of ``idx``), vectorised over resamples."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    classes = np.union1d(labels, pred)
    lab, prd = np.searchsorted(classes, labels[idx]), np.searchsorted(classes, pred[idx])
    b, c = idx.shape[0], len(classes)
    offs = (np.arange(b) * c)[:, None]
    counts = np.bincount((lab + offs).ravel(), minlength=b * c).reshape(b, c).astype(float)
    hit = np.bincount((lab + offs).ravel(), weights=(lab == prd).ravel().astype(float),
                      minlength=b * c).reshape(b, c)
    present = np.bincount((prd + offs).ravel(), minlength=b * c).reshape(b, c) > 0
    in_union = (counts > 0) | present
    acc = np.divide(hit, counts, out=np.zeros_like(hit), where=counts > 0)
    return 100.0 * (acc * in_union).sum(axis=1) / in_union.sum(axis=1)


def resampled_metric(metric: str, labels: np.ndarray, topk: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The metric of each resample (rows of ``idx``)."""
    if metric == "mean_class_acc":
        return _mca_rows(labels, topk[:, 0], idx)
    k = 1 if metric == "top1" else min(5, topk.shape[1])
    return 100.0 * correct_topk(labels, topk, k)[idx].mean(axis=1)


def draw(metric: str, labels: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """The resample indices of ``metric`` (stratified for mean class accuracy)."""
    if metric == "mean_class_acc":
        return stratified_indices(labels, rng, resamples)
    return resample_indices(len(labels), rng, resamples)


def _interval(values: np.ndarray) -> list[float]:
    """The percentile interval; resamples whose metric is undefined (a multi-label resample without any positive
    video: MMAction2's mAP is NaN) are left out (``numpy.nanpercentile``)."""
    lo, hi = np.nanpercentile(values, [(100 - LEVEL) / 2, 100 - (100 - LEVEL) / 2])
    return [float(lo), float(hi)]


def bootstrap_ci(episodes: Sequence[tuple[np.ndarray, np.ndarray]], metric: str, seed: int = SEED,
                 resamples: int = RESAMPLES) -> list[float]:
    """95 % percentile CI of the mean over ``episodes`` ((labels, topk) each) of ``metric``.

    One generator (``seed``) draws the episodes' indices in episode order."""
    rng = np.random.default_rng(seed)
    per = [resampled_metric(metric, lab, top, draw(metric, lab, rng, resamples)) for lab, top in episodes]
    return _interval(np.mean(per, axis=0))


def paired_bootstrap(a: Sequence[tuple[np.ndarray, np.ndarray]], b: Sequence[tuple[np.ndarray, np.ndarray]],
                     metric: str, seed: int = SEED, resamples: int = RESAMPLES) -> dict[str, float | list[float]]:
    """Difference ``metric(b) - metric(a)`` (points) over the same videos, its paired 95 % CI and whether the
    CI excludes 0. ``a`` and ``b``: per episode (labels, topk), the same videos in the same order."""
    rng = np.random.default_rng(seed)
    diffs, point = [], []
    for (la, ta), (lb, tb) in zip(a, b, strict=True):
        idx = draw(metric, la, rng, resamples)
        diffs.append(resampled_metric(metric, lb, tb, idx) - resampled_metric(metric, la, ta, idx))
        point.append(metric_values(lb, tb)[metric] - metric_values(la, ta)[metric])
    ci = _interval(np.mean(diffs, axis=0))
    return {"diff": float(np.mean(point)), "ci": ci, "significant": bool(ci[0] > 0 or ci[1] < 0)}


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float | int]:
    """McNemar's exact test of two paired top-1 outcomes: the discordant counts and the two-sided binomial p."""
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(min(only_a, only_b), n, 0.5, alternative="two-sided").pvalue)
    return {"only_a": only_a, "only_b": only_b, "p": p}


def seed_paired(a: Sequence[float], b: Sequence[float]) -> dict[str, float | list[float] | int]:
    """Seed-level paired difference of two rows measured with the same seeds (``a[i]``, ``b[i]``: seed i):
    the mean difference, its 95 % t interval over seeds (``scipy.stats.t``) and the paired t-test p."""
    from scipy import stats

    d = np.asarray(b, float) - np.asarray(a, float)
    if len(d) < 2:
        raise ValueError("a seed-level paired difference needs at least two seeds")
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    if se == 0:
        ci, p = [mean, mean], (1.0 if mean == 0 else 0.0)
    else:
        half = float(stats.t.ppf(0.975, len(d) - 1)) * se
        ci, p = [mean - half, mean + half], float(stats.ttest_rel(b, a).pvalue)
    return {"diff": mean, "ci": ci, "p": p, "seeds": len(d), "significant": bool(ci[0] > 0 or ci[1] < 0)}


def bootstrap_map(episodes: Sequence[tuple[np.ndarray, np.ndarray]], seed: int = SEED,
                  resamples: int = RESAMPLES) -> list[float]:
    """95 % percentile CI of the mean over ``episodes`` ((scores, multi-hot labels) each) of MMAction2's
    multi-label mAP (``bench.metrics.mean_ap``); the same video draw as top-1."""
    from bench.metrics import mean_ap

    rng = np.random.default_rng(seed)
    per = []
    for scores, labels in episodes:
        idx = resample_indices(len(labels), rng, resamples)
        per.append([mean_ap(scores[i], labels[i]) for i in idx])
    return _interval(np.mean(per, axis=0))


def paired_bootstrap_map(a: Sequence[tuple[np.ndarray, np.ndarray]], b: Sequence[tuple[np.ndarray, np.ndarray]],
                         seed: int = SEED, resamples: int = RESAMPLES) -> dict[str, float | list[float]]:
    """``paired_bootstrap`` for multi-label mAP: ``a``/``b`` per episode (scores, multi-hot labels), same videos."""
    from bench.metrics import mean_ap

    rng = np.random.default_rng(seed)
    diffs, point = [], []
    for (sa, la), (sb, _) in zip(a, b, strict=True):
        idx = resample_indices(len(la), rng, resamples)
        diffs.append([mean_ap(sb[i], la[i]) - mean_ap(sa[i], la[i]) for i in idx])
        point.append(mean_ap(sb, la) - mean_ap(sa, la))
    ci = _interval(np.mean(diffs, axis=0))
    return {"diff": float(np.mean(point)), "ci": ci, "significant": bool(ci[0] > 0 or ci[1] < 0)}
