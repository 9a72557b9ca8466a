"""Every protocol that tests through ``BenchAccMetric`` keeps per-video predictions beside its record, and the
headline metrics recomputed from the prediction file alone equal the record's exactly (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

import protocols  # noqa: F401  (registers every protocol)
from bench import job, predictions
from bench.errors import DataError
from bench.store import Store

# protocol -> (dataset, protocol args); ava and linear_probe keep no predictions yet (see README)
CASES = {
    "charades": ("charades", {"views": "2x1"}),
    "supervised": ("syn_k400", {"views": "2x1"}),
    "supervised-splits": ("syn_hmdb", {"splits": [1, 2]}),
    "fewshot": ("syn_ucf", {"shots": 2}),
    "zeroshot": ("syn_k600", {"mode": "k600", "train_dataset": "syn_k400"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_recomputed_from_the_prediction_file_equal_the_record(case, fresh_dirs, quick_spec, request):
    dataset, args = CASES[case]
    if dataset == "charades":
        request.getfixturevalue("charades_imported")
    spec = quick_spec(case.split("-")[0], dataset, **args)
    record = job.run(spec)
    root = Store().root
    ref = record["predictions"]
    path = root / ref["file"]
    assert path == root / "predictions" / f"{spec.run_id}.npz" and path.stat().st_size == ref["bytes"]
    assert Store().read(spec.run_id)["predictions"]["sha256"] == ref["sha256"]
    arrays = predictions.load(root, record)
    m = record["metrics"]
    got = predictions.recompute(arrays)
    for key in ("mAP",) if case == "charades" else ("top1", "top5", "mean_class_acc"):
        assert got[key] == m[key], key  # exactly, not approximately
        lo, hi = record["stats"]["ci"][key]
        assert lo <= m[key] <= hi or lo == hi
    tests = [e for e in record["episodes"] if "role" not in e["metrics"] or e["metrics"]["role"] == "test"]
    assert list(arrays) == [e["episode"]["name"] for e in tests]
    for ep in tests if case != "charades" else []:
        a = arrays[ep["episode"]["name"]]
        listed = [line.split()[0] for line in open(ep["episode"]["test"]["ann_file"]) if line.strip()]
        assert list(a["video"]) == listed and a["top5"].shape == (len(listed), min(5, ep["episode"]["num_classes"]))
        assert a["top5_scores"].dtype == np.float16 and "scores" not in a
    if case == "charades":
        a = arrays["main"]
        assert a["scores"].dtype == np.float32 and a["labels_multi"].shape == a["scores"].shape
        from bench.paired import compare_runs

        same = compare_runs(root, record, record)["mAP"]
        assert same["diff"] == 0 and same["ci"][0] <= 0 <= same["ci"][1]
    # a prediction file changed after its record was written is refused
    with open(path, "ab") as f:
        f.write(b"x")
    with pytest.raises(DataError, match="changed after the record"):
        predictions.load(root, record)
