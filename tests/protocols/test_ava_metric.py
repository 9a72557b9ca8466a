"""The ava protocol's metric is MMAction2's: same numbers as ``AVAMetric`` / ``ava_eval`` on the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import ava_files as ava_data


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
    assert all(ours[f"mAP_{g}"] is not None for g, ids in groups.items() if ids)


def test_real_ava_groups_follow_the_label_map_ids():
    from bench.data.catalog import LABELS_DIR

    items = ava_data.read_label_map(LABELS_DIR / "ava_label_map.txt")
    groups = ava_data.category_groups(items, synthetic=False)
    assert len(items) == 60 and sum(len(v) for v in groups.values()) == 60
    assert max(groups["pose"]) <= 14 < min(groups["object_interaction"])
    assert max(groups["object_interaction"]) <= 63 < min(groups["person_interaction"])


# ----------------------------------------------------------------------------- issue 18: AVA as MMAction2 runs it

AVA_ITEMS = [(1, "stand"), (12, "sit"), (17, "carry/hold (an object)"), (20, "climb (e.g., a mountain)"),
             (64, "fight/hit (a person)"), (74, "talk to (e.g., self, a person, a group)")]
GT = {  # keyframe -> persons (box, actions); two keyframes have pose actions only
    ("vid_a", 902): [((0.1, 0.1, 0.4, 0.9), {1, 17}), ((0.5, 0.1, 0.9, 0.9), {12, 64})],
    ("vid_a", 903): [((0.1, 0.1, 0.4, 0.9), {1})],
    ("vid_b", 902): [((0.2, 0.2, 0.6, 0.9), {12, 74}), ((0.6, 0.1, 0.95, 0.8), {20})],
    ("vid_b", 904): [((0.3, 0.1, 0.7, 0.9), {12})],
    ("vid_b", 905): [((0.1, 0.3, 0.5, 0.9), {1, 17, 64, 74, 20})],
}


def _fixture(tmp_path):
    """Label map with AVA ids, ground truth, and detections with confident object/person false positives on the
    keyframes that have only pose ground truth."""
    label_map = ava_data.write_pbtxt(AVA_ITEMS, tmp_path / "labels.pbtxt")
    gt_csv = tmp_path / "gt.csv"
    gt_csv.write_text("".join(f"{v},{ts:04d},{','.join(f'{c:.3f}' for c in box)},{a},{p}\n"
                              for (v, ts), persons in GT.items() for p, (box, acts) in enumerate(persons)
                              for a in sorted(acts)))
    rng = np.random.default_rng(3)
    rows = []
    for (v, ts), persons in GT.items():
        pose_only = all(acts <= {1, 12} for _, acts in persons)
        for box, acts in persons:
            box = np.clip(np.asarray(box) + rng.normal(0, 0.01, 4), 0, 1)
            for a, _ in AVA_ITEMS:
                score = rng.uniform(0.05, 0.5) + (0.45 if a in acts else 0) + (0.4 if pose_only and a > 14 else 0)
                rows.append((v, ts, box, a, float(min(score, 1.0))))
    det_csv = ava_data.write_detections(rows, tmp_path / "det.csv")
    return label_map, gt_csv, det_csv


def test_group_maps_are_the_group_outputs_of_one_mmaction2_ava_eval(tmp_path):
    from mmaction.evaluation.functional import ava_eval

    label_map, gt_csv, det_csv = _fixture(tmp_path)
    groups = ava_data.category_groups(AVA_ITEMS, synthetic=False)
    assert groups == {"pose": [1, 12], "object_interaction": [17, 20], "person_interaction": [64, 74]}
    ours = ava_data.frame_map(det_csv, gt_csv, label_map, None, groups)
    theirs = ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv), None, verbose=False)
    assert ours["mAP"] == pytest.approx(100 * theirs["overall"], abs=1e-9)
    for name, key in (("pose", "person_movement"), ("object_interaction", "object_manipulation"),
                      ("person_interaction", "person_interaction")):
        assert ours[f"mAP_{name}"] == pytest.approx(100 * theirs[key], abs=1e-9), name
    # the fixture tells the two readings apart: re-running with custom_classes drops the false positives on the
    # keyframes without ground truth of the group, and scores higher
    custom = ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv), None, verbose=False,
                      custom_classes=[0, 17, 20])["overall"]
    assert custom > theirs["object_manipulation"] + 0.01


def test_synthetic_label_map_is_scored_with_ids_renumbered_into_avas_ranges(tmp_path):
    from mmaction.evaluation.functional import ava_eval

    label_map, gt_csv, det_csv = _fixture(tmp_path)
    # the same data under non-AVA ids (1..6): renumbered back into AVA's ranges, every AP is unchanged
    to_small = {a: i for i, (a, _) in enumerate(AVA_ITEMS, 1)}
    small = tmp_path / "small"
    small.mkdir()
    lm = ava_data.write_pbtxt([(to_small[a], n) for a, n in AVA_ITEMS], small / "labels.pbtxt")
    for src in (gt_csv, det_csv):
        rows = [r.split(",") for r in src.read_text().splitlines()]
        (small / src.name).write_text("".join(",".join([*r[:6], str(to_small[int(r[6])]), *r[7:]]) + "\n"
                                              for r in rows))
    groups = {"pose": [1, 2], "object_interaction": [3, 4], "person_interaction": [5, 6]}
    ours = ava_data.frame_map(small / "det.csv", small / "gt.csv", lm, None, groups)
    theirs = ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv), None, verbose=False)
    assert ours["mAP"] == pytest.approx(100 * theirs["overall"], abs=1e-9)
    assert ours["mAP_object_interaction"] == pytest.approx(100 * theirs["object_manipulation"], abs=1e-9)


def test_proposals_tied_at_the_best_score_are_all_kept_as_avadataset_does(tmp_path):
    import pickle

    from mmaction.datasets import AVADataset

    props = {"vid_a,0902": np.array([[0.1, 0.1, 0.4, 0.9, 0.5], [0.5, 0.1, 0.9, 0.9, 0.8],
                                     [0.2, 0.2, 0.6, 0.9, 0.8], [0.3, 0.1, 0.7, 0.9, 0.3]], dtype=np.float32),
             "vid_a,0903": np.array([[0.1, 0.1, 0.4, 0.9, 0.95], [0.5, 0.1, 0.9, 0.9, 0.92],
                                     [0.2, 0.2, 0.6, 0.9, 0.4]], dtype=np.float32)}
    pkl = tmp_path / "props.pkl"
    pkl.write_bytes(pickle.dumps(props))
    label_map, gt_csv, _ = _fixture(tmp_path)
    ds = AVADataset(ann_file=str(gt_csv), pipeline=[], proposal_file=str(pkl), data_prefix=dict(img=str(tmp_path)),
                    test_mode=True)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        video, ts = info["img_key"].split(",")
        ours = ava_data.keyframe_boxes(props, (video, int(ts)), 0.9)
        np.testing.assert_array_equal(ours, info["proposals"])
    assert len(ava_data.keyframe_boxes(props, ("vid_a", 902), 0.9)) == 2  # the two boxes tied at 0.8


@pytest.mark.parametrize(("ts", "clip_len", "interval", "start_index"), [(902, 8, 2, 1), (900, 4, 4, 1),
                                                                           (907, 8, 2, 0), (901, 5, 3, 1)])
def test_keyframe_clip_indices_are_sampleavaframes(ts, clip_len, interval, start_index):
    from mmaction.datasets.transforms import SampleAVAFrames

    fps, ts_start, ts_end = 8, 900, 908
    theirs = SampleAVAFrames(clip_len, interval, test_mode=True).transform(
        dict(fps=fps, timestamp=ts, timestamp_start=ts_start, start_index=start_index,
             shot_info=(0, (ts_end - ts_start) * fps)))["frame_inds"]
    files = ava_data.AVAFiles(Path("gt"), Path("lm"), None, None, None, None, fps, ts_start,
                              start_index=start_index, timestamp_end=ts_end)
    reader = ava_data.FrameReader(files, clip_len, interval, 32)
    np.testing.assert_array_equal(reader.indices(ts, total=(ts_end - ts_start) * fps), theirs)


@pytest.mark.parametrize(("h", "w"), [(64, 128), (90, 60), (64, 64)])
def test_frames_keep_their_aspect_ratio_as_mmaction2_resize(h, w):
    from mmaction.datasets.transforms import Resize

    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    theirs = Resize(scale=(-1, 32)).transform(dict(imgs=[img], img_shape=(h, w), modality="RGB"))["imgs"][0]
    assert ava_data.resize_frame(img, 32, "keep_ratio").shape == theirs.shape
    assert ava_data.resize_frame(img, 32, "letterbox").shape[:2] == tuple(
        int(round(x * 32 / max(h, w))) for x in (h, w))
    assert ava_data.resize_frame(img, 32, "square").shape[:2] == (32, 32)


@pytest.mark.slow
def test_actions_outside_the_label_map_load_and_train(syn_ava, tmp_path, monkeypatch, fresh_dirs, quick_spec):
    """A training CSV with an action the label map does not list (as AVA's 80 vs its 60): trained on, not scored."""
    import dataclasses

    from bench import job
    from bench.data import catalog
    from protocols import ava as ava_protocol

    rows = [r for r in syn_ava.split_file("train").read_text().splitlines() if r.strip()]
    label_ids = {i for i, _ in ava_data.read_label_map(syn_ava.extra["label_map"])}
    extra = max(label_ids) + 1
    first = rows[0].split(",")
    rows.append(",".join([*first[:6], str(extra), first[7] if len(first) > 7 else "0"]))
    train_csv = tmp_path / "train_with_extra_action.csv"
    train_csv.write_text("\n".join(rows) + "\n")
    keys = sorted({(r.split(",")[0], int(r.split(",")[1])) for r in rows})
    excl_csv = tmp_path / "train_excluded.csv"  # the world's own exclusions plus two annotated keyframes
    excl_csv.write_text(syn_ava.extra["exclusions"]["train"].read_text() + "".join(
        f"{v},{ts:04d}\n" for v, ts in keys[:2]))
    extra_files = {**syn_ava.extra, "exclusions": {**syn_ava.extra["exclusions"], "train": excl_csv}}
    ds = dataclasses.replace(syn_ava, splits={**syn_ava.splits, "train": train_csv}, extra=extra_files)
    real_get = catalog.get_dataset
    monkeypatch.setattr(catalog, "get_dataset", lambda name, where="": ds if name == "syn_ava" else real_get(name))
    monkeypatch.setattr(ava_protocol, "get_dataset", lambda name, where="": ds)
    record = job.run(quick_spec("ava", "syn_ava", batch_size=4))
    m = record["episodes"][0]["metrics"]
    assert m["num_train_actions"] == len(label_ids | {extra})
    excluded = {(r.split(",")[0], int(r.split(",")[1])) for r in excl_csv.read_text().splitlines() if r.strip()}
    assert len(set(keys) & excluded) >= 2
    assert m["num_train_keyframes"] == len(set(keys) - excluded)
    assert record["episodes"][0]["episode"]["params"]["excluded_train_keyframes"] == len(set(keys) & excluded)
    assert record["metrics"]["mAP"] is not None
    assert all(int(r.split(",")[6]) in label_ids for r in Path(m["detections"]).read_text().splitlines())


def test_real_ava_csv_with_actions_outside_the_60_loads_and_trains_on_all_80(tmp_path):
    from bench.data.catalog import LABELS_DIR
    from bench.errors import DataError
    from protocols.ava import train_action_ids

    items = ava_data.read_label_map(LABELS_DIR / "ava_label_map.txt")
    assert 2 not in {i for i, _ in items}  # "bend/bow (at the waist)": annotated by AVA, not evaluated
    csv_path = tmp_path / "ava_train.csv"
    csv_path.write_text("vid,0902,0.1,0.1,0.5,0.9,2,0\nvid,0902,0.1,0.1,0.5,0.9,80,0\nvid,0903,0.2,0.1,0.6,0.9,1,1\n")
    gt = ava_data.read_gt(csv_path, ava_data.AVA_ACTION_IDS)
    assert gt[("vid", 902)][0][1] == {2, 80}
    assert train_action_ids(items, csv_path, synthetic=False) == list(range(1, 81))
    bad = tmp_path / "bad.csv"
    bad.write_text("vid,0902,0.1,0.1,0.5,0.9,81,0\n")
    with pytest.raises(DataError, match=r"bad.csv:1: action id 81 .* 1\.\.80"):
        ava_data.read_gt(bad, ava_data.AVA_ACTION_IDS)


def _bootstrap_case(tmp_path):
    """Four videos, two keyframes each, actions 1 / 20 / 70 (one per AVA group), jittered and spurious boxes with
    distinct scores (no ties: the pooling order of a resample then cannot change an AP)."""
    rng = np.random.default_rng(5)
    label_map = ava_data.write_pbtxt([(1, "stand"), (20, "carry object"), (70, "talk to another")],
                                     tmp_path / "label_map.pbtxt")
    gt_rows, det_rows = [], []
    for v in range(4):
        for ts in (902, 903):
            for _ in range(2):
                box = np.sort(rng.uniform(0, 1, (2, 2)), axis=0).reshape(-1)
                acts = sorted(rng.choice([1, 20, 70], size=rng.integers(1, 3), replace=False).tolist())
                gt_rows += [f"vid{v},{ts},{box[0]:.3f},{box[1]:.3f},{box[2]:.3f},{box[3]:.3f},{a},0" for a in acts]
                for b in (np.clip(box + rng.normal(0, 0.03, 4), 0, 1), rng.uniform(0, 1, 4)):
                    b = np.sort(b.reshape(2, 2), axis=0).reshape(-1)
                    det_rows += [(f"vid{v}", ts, b, a, 0.0) for a in (1, 20, 70)]
    scores = rng.permutation(len(det_rows)) / len(det_rows) + 1e-3  # distinct after rounding to 4 decimals
    det_rows = [(v, ts, b, a, float(s)) for (v, ts, b, a, _), s in zip(det_rows, scores)]
    gt = tmp_path / "gt.csv"
    gt.write_text("".join(f"{r}\n" for r in gt_rows))
    excl = tmp_path / "excl.csv"
    excl.write_text("vid3,903\n")
    det = ava_data.write_detections(det_rows, tmp_path / "det.csv")
    groups = {"pose": [1], "object_interaction": [20], "person_interaction": [70]}
    return det, gt, label_map, excl, groups


def test_video_bootstrap_of_frame_map_equals_ava_eval_on_resampled_files(tmp_path):
    """Each resample of ``bootstrap_frame_map`` equals MMAction2's ``ava_eval`` run on files holding the drawn
    videos (a video drawn twice copied under two names); row 0 equals ``ava_eval`` on the files themselves."""
    det, gt, label_map, excl, groups = _bootstrap_case(tmp_path)
    arrays = ava_data.prediction_arrays(det, gt, label_map, excl, groups)
    rows = ava_data.bootstrap_frame_map(arrays, resamples=6, seed=3)
    direct = ava_data.frame_map(det, gt, label_map, excl, groups)
    assert all(rows[k][0] == direct[k] for k in direct)
    draws = np.random.default_rng(3).integers(0, 4, size=(6, 4))  # the documented draw, videos in sorted order
    videos = sorted({line.split(",")[0] for line in gt.read_text().splitlines()})
    assert len({tuple(sorted(d)) for d in draws}) > 1
    for r, idx in enumerate(draws):
        out = tmp_path / f"resample{r}"
        out.mkdir()
        files = {}
        for name, src in (("gt", gt), ("det", det), ("excl", excl)):
            lines = src.read_text().splitlines()
            files[name] = out / f"{name}.csv"
            files[name].write_text("".join(f"{videos[v]}copy{j},{line.split(',', 1)[1]}\n" for j, v in enumerate(idx)
                                           for line in lines if line.split(",")[0] == videos[v]))
        want = ava_data.frame_map(files["det"], files["gt"], label_map, files["excl"], groups)
        for k, value in want.items():
            assert rows[k][r + 1] == pytest.approx(value, rel=1e-12, abs=1e-12), (r, k)
