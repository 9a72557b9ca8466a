"""Every protocol that tests through ``BenchAccMetric`` keeps per-video predictions beside its record, and the
headline metrics recomputed from the prediction file alone equal the record's exactly (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

import protocols  # noqa: F401  (registers every protocol)
from bench import job, predictions
from bench.errors import DataError
from bench.registry import PROTOCOLS
from bench.store import Store

# protocol -> (dataset, protocol args); every registered protocol has a case (a new protocol without one fails)
CASES = {
    "ava": ("syn_ava", {"batch_size": 4}),
    "charades": ("charades", {"views": "2x1"}),
    "linear_probe": ("syn_hmdb", {"splits": [1, 2]}),
    "supervised": ("syn_k400", {"views": "2x1"}),
    "supervised-splits": ("syn_hmdb", {"splits": [1, 2]}),
    "fewshot": ("syn_ucf", {"shots": 2}),
    "zeroshot": ("syn_k600", {"mode": "k600", "train_dataset": "syn_k400"}),
}
AVA_KEYS = ("mAP", "mAP_pose", "mAP_object_interaction", "mAP_person_interaction")


def test_every_registered_protocol_has_a_recompute_case():
    assert {c.split("-")[0] for c in CASES} == set(PROTOCOLS._items)


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
    keys = {"charades": ("mAP",), "ava": AVA_KEYS}.get(case, ("top1", "top5", "mean_class_acc"))
    for key in keys:
        assert got[key] == m[key], key  # exactly, not approximately
        if case == "ava":
            continue
        lo, hi = record["stats"]["ci"][key]
        assert lo <= m[key] <= hi or lo == hi
    if case == "ava":
        _check_ava(root, record, arrays)
        return
    tests = [e for e in record["episodes"] if "role" not in e["metrics"] or e["metrics"]["role"] == "test"]
    assert list(arrays) == [e["episode"]["name"] for e in tests]
    for ep in tests if case != "charades" else []:
        a = arrays[ep["episode"]["name"]]
        listed = [line.split()[0] for line in open(ep["episode"]["test"]["ann_file"]) if line.strip()]
        assert list(a["video"]) == listed and a["top5"].shape == (len(listed), min(5, ep["episode"]["num_classes"]))
        assert a["top5_scores"].dtype == np.float16 and "scores" not in a
        if case == "supervised":  # 2x1 views: the fraction of the 2 views agreeing with the video's top-1
            assert int(a["num_views"]) == 2 and set(np.unique(a["view_agreement"])) <= {0.0, 0.5, 1.0}
        else:
            assert "view_agreement" not in a
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


def _check_ava(root, record, arrays):
    """AVA keeps the detection rows its frame mAP consumed; written back they are the protocol's CSV, byte for byte."""
    from bench.data.ava_files import detection_text
    from bench.paired import compare_runs

    (ep,) = record["episodes"]
    a = arrays[ep["episode"]["name"]]
    det = ep["metrics"]["detections"]
    assert detection_text(a) == open(det).read() and len(a["det_score"]) == ep["metrics"]["num_detections"] > 0
    assert a["det_box"].shape == (len(a["det_score"]), 4) and set(a["det_video"]) <= set(a["video"])
    gt = [line.strip() for line in open(ep["episode"]["test"]["files"]["gt_csv"]["path"]) if line.strip()]
    assert list(a["gt_csv"]) == gt and record["predictions"]["num_videos"] == len({g.split(",")[0] for g in gt})
    ci = record["stats"]["ci"]
    assert set(ci) == {k for k in AVA_KEYS if record["metrics"][k] is not None} and "mAP" in ci
    assert all(lo <= record["metrics"][k] <= hi for k, (lo, hi) in ci.items())
    with pytest.raises(DataError, match="AVA"):
        compare_runs(root, record, record)
