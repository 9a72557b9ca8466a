"""The ava protocol's metric is MMAction2's: same numbers as ``AVAMetric`` / ``ava_eval`` on the same files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from protocols import ava_data


@pytest.fixture(scope="module")
def syn_ava():
    from bench.data.catalog import get_dataset

    return get_dataset("syn_ava")


def fake_detections(gt, ids, present, seed=0):
    """Jittered ground-truth boxes plus a spurious box per keyframe, random scores for the classes in ``present``."""
    rng = np.random.default_rng(seed)
    out = []
    for (video, ts), persons in gt.items():
        boxes = [np.clip(b + rng.normal(0, 0.03, 4), 0, 1) for b, _ in persons] + [rng.uniform(0, 1, 4)]
        for i, box in enumerate(boxes):
            acts = persons[i][1] if i < len(persons) else set()
            scores = np.zeros(len(ids) + 1, dtype=np.float32)  # column 0: background, as MMAction2 lays it out
            for c, a in enumerate(ids):
                if a in present:
                    scores[c + 1] = np.clip(rng.uniform(0, 0.6) + (0.4 if a in acts else 0), 0.003, 1)
            out.append((video, ts, np.sort(box.reshape(2, 2), axis=0).reshape(-1), scores))
    return out


def test_frame_map_agrees_with_mmaction2_avametric(syn_ava, tmp_path, monkeypatch):
    from mmaction.evaluation.functional import ava_eval
    from mmaction.evaluation.metrics import AVAMetric
    from mmaction.structures import bbox2result

    ex = syn_ava.extra
    items = ava_data.read_label_map(ex["label_map"])
    ids = [i for i, _ in items]
    gt_csv, excl = syn_ava.split_file("val"), ex["exclusions"]["val"]
    gt = ava_data.read_gt(gt_csv, ids)
    present = {a for persons in gt.values() for _, acts in persons for a in acts}
    dets = fake_detections(gt, ids, present)

    rows = [(v, ts, box, ids[c], float(s[c + 1])) for v, ts, box, s in dets for c in range(len(ids))
            if s[c + 1] >= 0.002]
    det_csv = ava_data.write_detections(rows, tmp_path / "det.csv")
    groups = ava_data.category_groups(items, synthetic=True)
    ours = ava_data.frame_map(det_csv, gt_csv, ex["label_map"], excl, groups)

    # MMAction2's own path: per-keyframe results -> bbox2result -> results2csv -> ava_eval
    results = {}
    for v, ts, box, s in dets:
        results.setdefault((v, ts), ([], []))
        results[(v, ts)][0].append(box)
        results[(v, ts)][1].append(s)
    metric = AVAMetric(ann_file=str(gt_csv), exclude_file=str(excl), label_file=str(ex["label_map"]),
                       num_classes=len(ids) + 1)
    packed = [{"video_id": v, "timestamp": ts,
               "outputs": bbox2result(torch.tensor(np.stack(b)), torch.tensor(np.stack(s)), len(ids) + 1, thr=0.002)}
              for (v, ts), (b, s) in results.items()]
    monkeypatch.chdir(tmp_path)
    theirs = metric.compute_metrics(packed)
    assert ours["mAP"] == pytest.approx(100 * theirs["overall"], abs=1e-6)
    assert 0 < ours["mAP"] < 100
    for name, members in groups.items():
        members = [i for i in members if i in present]
        if members:
            direct = ava_eval(str(det_csv), "mAP", str(ex["label_map"]), str(gt_csv), str(excl), verbose=False,
                              custom_classes=[0, *members])["overall"]
            assert ours[f"mAP_{name}"] == pytest.approx(100 * direct, abs=1e-6), name


def test_real_ava_groups_follow_the_label_map_ids():
    from bench.data.catalog import LABELS_DIR

    items = ava_data.read_label_map(LABELS_DIR / "ava_label_map.txt")
    groups = ava_data.category_groups(items, synthetic=False)
    assert len(items) == 60 and sum(len(v) for v in groups.values()) == 60
    assert max(groups["pose"]) <= 14 < min(groups["object_interaction"])
    assert max(groups["object_interaction"]) <= 63 < min(groups["person_interaction"])
