"""Evaluation metrics: MMAction2's accuracy metric plus per-class accuracy and a prediction dump; mAP.

``AccMetric`` computes top-k and mean class accuracy. The harness also needs per-class accuracy
(for ``bench plot classes``) and the raw scores (to average views or re-score), so this subclass
writes them to ``dump_path`` and returns the same scalar metrics as ``AccMetric``. A multi-view test run under
``bench.view_agreement.per_view_top1`` also dumps each video's per-view top-1 (``view_top1``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mmaction.evaluation import AccMetric
from mmaction.registry import METRICS

from bench.view_agreement import FIELD


@METRICS.register_module()
class BenchAccMetric(AccMetric):
    """``AccMetric`` that also dumps per-class accuracy and scores (``dump_path``, JSON + NPZ)."""

    def __init__(self, *args, dump_path: str | None = None, class_names: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.dump_path = dump_path
        self.class_names = class_names

    def process(self, data_batch, data_samples) -> None:
        """``AccMetric.process``, plus each video's per-view top-1 where the test step attached it
        (``bench.view_agreement``)."""
        start = len(self.results)
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[start:], data_samples):
            views = sample.get(FIELD) if hasattr(sample, "get") else None
            if views is not None:
                result[FIELD] = np.asarray(views.cpu() if hasattr(views, "cpu") else views, dtype=np.int64)

    def compute_metrics(self, results: list) -> dict:
        if self.dump_path:
            self._dump(results)
        return super().compute_metrics(results)

    def _dump(self, results: list) -> None:
        scores = np.stack([np.asarray(r["pred"]["item"]) for r in results])
        labels = np.asarray([int(r["label"]) for r in results])
        pred = scores.argmax(axis=1)
        names = self.class_names or [str(i) for i in range(scores.shape[1])]
        per_class = {
            names[c]: float((pred[labels == c] == c).mean() * 100) for c in np.unique(labels)
        }
        path = Path(self.dump_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"scores": scores, "labels": labels}
        if results and all(FIELD in r for r in results) and len({len(r[FIELD]) for r in results}) == 1:
            arrays[FIELD] = np.stack([r[FIELD] for r in results])  # (videos, views): each view's top-1
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        path.with_suffix(".json").write_text(json.dumps({"per_class": per_class, "n": len(labels)}, indent=1))


@METRICS.register_module()
class BenchMultiLabelMetric(AccMetric):
    """``AccMetric`` (multi-label mAP) that also dumps the scores (float32) and multi-hot labels to ``dump_path``
    (NPZ), so that the run's per-video predictions can be kept and the mAP recomputed exactly (issue 23)."""

    def __init__(self, *args, dump_path: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.dump_path = dump_path

    def compute_metrics(self, results: list) -> dict:
        if self.dump_path:
            scores = np.stack([np.asarray(r["pred"]["item"], dtype=np.float32) for r in results])
            labels = np.stack([np.asarray(r["label"]) for r in results]).astype(np.uint8)
            path = Path(self.dump_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path.with_suffix(".npz"), scores=scores, labels=labels)
        return super().compute_metrics(results)


# Single-label datasets whose results also report mAP over the classes.
MAP_DATASETS = ("activitynet",)


def mean_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """MMAction2's multi-label mAP (in percent) of ``scores`` (N, C) against multi-hot ``labels`` (N, C)."""
    from mmaction.evaluation import mean_average_precision

    return 100 * float(mean_average_precision(list(scores), list(labels.astype(np.int64))))


def map_of_dump(dump: Path, num_classes: int) -> float:
    """mAP of a single-label test from ``BenchAccMetric``'s dump (``<dump_path>.npz``: scores, labels)."""
    data = np.load(Path(dump).with_suffix(".npz"))
    onehot = np.zeros((len(data["labels"]), num_classes), dtype=np.int64)
    onehot[np.arange(len(data["labels"])), data["labels"]] = 1
    return mean_ap(data["scores"], onehot)
