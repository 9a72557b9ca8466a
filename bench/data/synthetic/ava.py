"""The AVA-like dataset: several actors per clip, boxes at 1 Hz keyframes, multi-label atomic actions.

Files follow AVA v2.x as MMAction2 reads them (``mmaction.datasets.AVADataset`` and
``mmaction.evaluation.functional.ava_utils``): ``{train,val}.csv`` rows
``video_id,timestamp,x1,y1,x2,y2,action_id,person_id`` with boxes normalised to [0, 1] and action
ids from 1; ``label_map.pbtxt`` (``item { name: ... id: ... }``); proposals as a pickle mapping
``"video_id,timestamp"`` (timestamp as 4 digits) to ``(N, 5)`` arrays ``x1,y1,x2,y2,score``;
exclusions as ``video_id,timestamp`` rows. Rawframes are ``rawframes/{video_id}/img_{:05d}.jpg``
numbered from 1, and the same clip as ``videos/{video_id}.mp4``. Time runs from
``timestamp_start = 900`` like AVA's 15-minute windows, at ``fps`` frames per second.

Each actor performs, in each one-second segment centred on a keyframe, one translation action
(stand still, walk left/right, jump up, drop down) and sometimes also a pose action (spin, grow,
shrink); being near the object or another actor adds an interaction action. Labels at a keyframe
are the actions of the segment around it: multi-label per actor.
"""

from __future__ import annotations

import csv
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.synthetic import render, video_io, world
from bench.data.synthetic.common import save_info, video_rng
from bench.data.synthetic.sizes import SizeConfig

ACTIONS = ("stand still", "walk left", "walk right", "jump up", "drop down", "spin", "grow", "shrink",
           "touch object", "meet another actor")
TRANSLATIONS = {"stand still": (0.0, 0.0), "walk left": (-1.0, 0.0), "walk right": (1.0, 0.0),
                "jump up": (0.0, -1.0), "drop down": (0.0, 1.0)}
TIMESTAMP_START = 900
STEP = 0.18  # displacement per second for a translation action (fraction of the frame)


def _actor_segments(rng: np.random.Generator, seconds: int, fps: int) -> tuple[dict[str, np.ndarray], list[set[str]]]:
    """Per-frame state of one actor and its (non-interaction) actions per one-second segment."""
    n = seconds * fps
    x, y = rng.uniform(0.25, 0.75, size=2)
    s, a = rng.uniform(0.1, 0.14), rng.uniform(0, math.pi / 4)
    xs, ys, ss, aa = (np.empty(n) for _ in range(4))
    segs: list[set[str]] = []
    for k in range(seconds + 1):  # segment k covers [k - 0.5, k + 0.5) seconds
        lo, hi = max(0, int((k - 0.5) * fps)), min(n, int((k + 0.5) * fps))
        if lo >= hi:
            segs.append(set())
            continue
        ok = [t for t, (dx, dy) in TRANSLATIONS.items()
              if 0.12 <= x + dx * STEP <= 0.88 and 0.12 <= y + dy * STEP <= 0.88]
        move = ok[int(rng.integers(len(ok)))]
        acts = {move}
        pose = None
        if rng.random() < 0.4:
            pose = ("spin", "grow", "shrink")[int(rng.integers(3))]
            if (pose == "grow" and s > 0.16) or (pose == "shrink" and s < 0.08):
                pose = "spin"
            acts.add(pose)
        dx, dy = TRANSLATIONS[move]
        steps = hi - lo
        for i in range(lo, hi):
            x += dx * STEP / fps
            y += dy * STEP / fps
            if pose == "spin":
                a += 2 * math.pi / fps
            elif pose in ("grow", "shrink"):
                s *= (1.5 if pose == "grow" else 1 / 1.5) ** (1 / steps)
            xs[i], ys[i], ss[i], aa[i] = x, y, s, a
        segs.append(acts)
    return {"x": xs, "y": ys, "scale": ss, "angle": aa}, segs


def _box(track: dict[str, np.ndarray], i: int) -> np.ndarray:
    r = track["scale"][i] * 1.05
    return np.clip([track["x"][i] - r, track["y"][i] - r, track["x"][i] + r, track["y"][i] + r], 0.0, 1.0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def make_video(cfg: SizeConfig, index: int) -> dict[str, Any]:
    """One AVA-like clip: frames, per-keyframe boxes and labels, proposals and exclusions."""
    rng = video_rng(cfg.seed, "syn_ava", 0, index)
    fps, seconds = video_io.FPS, cfg.ava_seconds
    n_actors = int(rng.integers(2, 4))
    shapes = [world.SHAPES[int(i)] for i in rng.choice(len(world.SHAPES), size=n_actors, replace=False)]
    colours = [list(world.COLOURS)[int(i)] for i in rng.choice(len(world.COLOURS), size=n_actors, replace=False)]
    tracks, segs = zip(*[_actor_segments(rng, seconds, fps) for _ in range(n_actors)], strict=True)
    obj = world.OBJECTS[int(rng.integers(len(world.OBJECTS)))]
    obj_pos = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
    actors = [render.ActorTrack(shapes[j], colours[j], t["x"], t["y"], t["scale"], t["angle"],
                                np.ones(seconds * fps, dtype=bool)) for j, t in enumerate(tracks)]
    clip = {"actors": actors, "object": obj, "object_pos": obj_pos,
            "pattern": world.PATTERNS[int(rng.integers(4))],
            "scene_colour": list(world.SCENE_COLOURS)[int(rng.integers(4))], "vertical": bool(rng.random() < 0.5),
            "noise": float(rng.uniform(0, 4)), "shake": np.zeros((seconds * fps, 2)),
            "seed_noise": int(rng.integers(2**31))}
    rows, proposals, exclusions = [], {}, []
    for k in range(1, seconds):  # keyframes at 1 Hz, inside the clip
        i = min(k * fps, seconds * fps - 1)
        ts = TIMESTAMP_START + k
        boxes = [_box(t, i) for t in tracks]
        for j, t in enumerate(tracks):
            acts = set(segs[j][k])
            if obj != "none" and math.dist((t["x"][i], t["y"][i]), obj_pos) < t["scale"][i] + 0.1:
                acts.add("touch object")
            if any(m != j and math.dist((t["x"][i], t["y"][i]), (u["x"][i], u["y"][i])) < 0.25
                   for m, u in enumerate(tracks)):
                acts.add("meet another actor")
            for act in sorted(acts, key=ACTIONS.index):
                rows.append([ts, *np.round(boxes[j], 3).tolist(), ACTIONS.index(act) + 1, j])
        jitter = rng.normal(0, 0.01, size=(n_actors, 4))
        props = [np.append(np.clip(b + e, 0, 1), rng.uniform(0.92, 1.0)) for b, e in zip(boxes, jitter, strict=True)]
        props.append(np.array([*sorted(rng.uniform(0, 1, 2)), *sorted(rng.uniform(0, 1, 2))], dtype=float)[[0, 2, 1, 3]]
                     .tolist() + [float(rng.uniform(0.3, 0.6))])  # a low-score false detection
        proposals[ts] = np.round(np.array(props, dtype=np.float32), 3)
        if any(_iou(boxes[a], boxes[b]) > 0.5 for a in range(n_actors) for b in range(a + 1, n_actors)):
            exclusions.append(ts)  # heavily overlapping actors: ambiguous boxes, left out as AVA does
    return {"frames": render.render_clip(clip, cfg.resolution), "rows": rows, "proposals": proposals,
            "exclusions": exclusions, "meta": {"actors": [f"{c} {s}" for c, s in zip(colours, shapes, strict=True)],
                                              "object": obj, "pattern": clip["pattern"],
                                              "scene_colour": clip["scene_colour"]}}


def build_ava(cfg: SizeConfig, root: Path) -> dict[str, Any]:
    """Write the AVA-like dataset into ``root`` (see the module docstring for the formats)."""
    import json

    n_train, n_val = cfg.ava_videos
    (root / "label_map.pbtxt").write_text(
        "".join(f'item {{\n  name: "{a}"\n  id: {i}\n}}\n' for i, a in enumerate(ACTIONS, 1)))
    with open(root / "classes.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "name"])
        w.writerows([i, a] for i, a in enumerate(ACTIONS, 1))
    meta_rows = []
    for split, lo, hi in (("train", 0, n_train), ("val", n_train, n_train + n_val)):
        rows, props, excl = [], {}, []
        for index in range(lo, hi):
            vid = f"syn_ava_{index:04d}"
            v = make_video(cfg, index)
            video_io.write_mp4(root / "videos" / f"{vid}.mp4", v["frames"])
            video_io.write_jpegs(root / "rawframes" / vid, v["frames"])
            rows += [[vid, *r] for r in v["rows"]]
            props.update({f"{vid},{ts:04d}": p for ts, p in v["proposals"].items()})
            excl += [[vid, ts] for ts in v["exclusions"]]
            meta_rows.append({"video": vid, "split": split, **v["meta"]})
        for name, data in ((f"{split}.csv", rows), (f"{split}_excluded_timestamps.csv", excl)):
            with open(root / name, "w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(data)
        with open(root / f"{split}_proposals.pkl", "wb") as f:
            pickle.dump(props, f, protocol=4)
    (root / "meta.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in meta_rows))
    (root / "class_info.json").write_text(json.dumps(
        [{"id": i, "name": a, "keywords": a.split()} for i, a in enumerate(ACTIONS, 1)], indent=1))
    extra = {"label_map": "label_map.pbtxt", "videos": "videos", "rawframes": "rawframes",
             "proposals": {"train": "train_proposals.pkl", "val": "val_proposals.pkl"},
             "exclusions": {"train": "train_excluded_timestamps.csv", "val": "val_excluded_timestamps.csv"},
             "timestamp_start": TIMESTAMP_START, "timestamp_end": TIMESTAMP_START + cfg.ava_seconds,
             "num_classes": len(ACTIONS) + 1, "filename_tmpl": "img_{:05d}.jpg", "start_index": 1,
             "ava_fps": video_io.FPS}
    return save_info(root, "syn_ava", cfg, list(ACTIONS), {"train": "train.csv", "val": "val.csv"}, extra, kind="ava")
