"""Miniature copies of the official dataset trees: the released file names, formats and layouts,
with a few tiny real videos (8 frames of 32x32, the container each dataset ships).

Used by the tests of ``bench data import`` and by anyone who wants to try the import on
something small. The annotation files follow ``protocols/README.md`` ("Accepted formats")
line by line, quirks included (CRLF line endings, UCF-101's ``HandStandPushups`` file names,
Kinetics' quoted labels, SSV2's ``[Something]`` templates, Charades videos with no action).
Run as ``python -m bench.data.synthetic.official <dataset> <dest>`` (one dataset per process:
decord's bundled FFmpeg, once loaded, breaks PyAV's VP9 encoder in the same process).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

from bench.data.official_files import read_classes
from bench.data.synthetic.video_io import write_video

FRAMES, SIZE = 8, 32


def frames_for(label: int, name: str) -> np.ndarray:
    """Deterministic frames: a colour and a moving bar per class, noise per video."""
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    rng = np.random.RandomState(seed)
    base = np.array([(label * 53) % 256, (label * 97) % 256, (label * 31 + 80) % 256], dtype=np.float32)
    out = np.empty((FRAMES, SIZE, SIZE, 3), dtype=np.float32)
    for t in range(FRAMES):
        out[t] = base
        out[t, :, (t * 4 + label) % SIZE] = 255 - base
    out += rng.normal(0, 8, out.shape)
    return out.clip(0, 255).astype(np.uint8)


def _video(path: Path, label: int) -> None:
    write_video(path, frames_for(label, path.name))


def _write(path: Path, text: str, crlf: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n").encode() if crlf else text.encode())


def ucf101(dest: Path) -> dict:
    """``UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` and ``ucfTrainTestlist/`` (classInd, train/testlist0N)."""
    classes = read_classes("ucf101")
    picked = [0, 1, 36, 100]  # ApplyEyeMakeup, ApplyLipstick, HandstandPushups (file-name quirk), YoYo
    groups = [1, 8, 15, 22]  # split N tests groups 7(N-1)+1 .. 7N
    ann = dest / "ucfTrainTestlist"
    _write(ann / "classInd.txt", "".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)), crlf=True)
    rows = []
    for c in picked:
        name = classes[c]
        file_name = "HandStandPushups" if name == "HandstandPushups" else name
        for g in groups:
            for clip in (1, 2):
                rel = f"{name}/v_{file_name}_g{g:02d}_c{clip:02d}.avi"
                _video(dest / "UCF-101" / rel, c)
                rows.append((rel, c, g))
    for split in (1, 2, 3):
        test_groups = range(7 * (split - 1) + 1, 7 * split + 1)
        _write(ann / f"trainlist0{split}.txt", "".join(f"{r} {c + 1}\n" for r, c, g in rows if g not in test_groups),
               crlf=True)
        _write(ann / f"testlist0{split}.txt", "".join(f"{r}\n" for r, c, g in rows if g in test_groups), crlf=True)
    return {"root": dest / "UCF-101", "annotations": ann, "videos": len(rows)}


def hmdb51(dest: Path) -> dict:
    """``<class>/<clip>.avi`` for all 51 classes (3 clips each) and ``testTrainMulti_7030_splits/``."""
    classes = read_classes("hmdb51")
    ann = dest / "testTrainMulti_7030_splits"
    n = 0
    for c, name in enumerate(classes):
        folder = name.replace(" ", "_")
        # some real HMDB-51 names start with '#' ("#122_Cleaning_Up_The_Beach_In_Chiba__Japan_pick_...")
        prefix = "#122_" if folder == "pick" else ""
        clips = [f"{prefix}{folder.title().replace('_', '')}_clip_{folder}_f_cm_np1_fr_med_{k}.avi" for k in range(3)]
        for clip in clips:
            _video(dest / "hmdb51_org" / folder / clip, c)
            n += 1
        for split in (1, 2, 3):
            # two training clips and one test clip per class, rotating over the splits; a fourth unused name
            tags = {clips[(split - 1 + k) % 3]: tag for k, tag in enumerate((1, 1, 2))}
            lines = [f"{clip} {tags[clip]}" for clip in clips] + [f"{folder}_unused_{split}.avi 0"]
            _write(ann / f"{folder}_test_split{split}.txt", "".join(f"{line} \n" for line in lines))
    return {"root": dest / "hmdb51_org", "annotations": ann, "videos": n}


def _kinetics_rows(classes: list[str], picked: list[int], tag: str, per_split=(("train", 2), ("val", 1))):
    rows = []
    for c in picked:
        for split, k in per_split:
            for i in range(k):
                yt = hashlib.sha256(f"{tag}{c}{split}{i}".encode()).hexdigest()[:11].replace("a", "-")
                start = 10 * (i + 1) + c
                rows.append({"label": classes[c], "youtube_id": yt, "time_start": start, "time_end": start + 10,
                             "split": split})
    return rows


def _kinetics_csv(path: Path, rows: list[dict], is_cc: bool) -> None:
    cols = ["label", "youtube_id", "time_start", "time_end", "split"] + (["is_cc"] if is_cc else [])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "is_cc": 0})
    _write(path, buf.getvalue())


def kinetics(dest: Path, version: str = "k400", layout: str = "class-folders", rows: list[dict] | None = None) -> dict:
    """Kinetics CSVs (``train.csv``, ``validate.csv``, ``test.csv``) and videos in one of the common layouts:
    ``class-folders`` (``videos_<split>/<class_with_underscores>/<id>_<start:06d>_<end:06d>.mp4``),
    ``flat`` (``videos/vol_00/<id>_<start>_<end>.mp4``) or ``split-roots`` (``train/<id>.mkv``, no times)."""
    classes = read_classes(version)
    if rows is None:
        rows = _kinetics_rows(classes, [0, 1, 2], version)
    ann = dest / "annotations"
    for split, name in (("train", "train.csv"), ("val", "validate.csv"), ("test", "test.csv")):
        _kinetics_csv(ann / name, [r for r in rows if r["split"] == split], is_cc=version == "k400")
    for r in rows:
        if r["split"] == "test":
            continue
        c = classes.index(r["label"])
        stem = f"{r['youtube_id']}_{int(r['time_start']):06d}_{int(r['time_end']):06d}"
        if layout == "class-folders":
            rel = f"videos_{r['split']}/{r['label'].replace(' ', '_')}/{stem}.mp4"
        elif layout == "flat":
            rel = f"videos/vol_00/{stem}.mp4"
        else:
            rel = f"{r['split']}/{r['youtube_id']}.mkv"
        _video(dest / "videos" / rel if layout != "flat" else dest / rel, c)
    root = dest / "videos" if layout != "flat" else dest / "videos"
    return {"root": root, "annotations": ann, "videos": sum(r["split"] != "test" for r in rows)}


def ssv2(dest: Path) -> dict:
    """``20bn-something-something-v2/<id>.webm`` and ``labels/{labels,train,validation,test}.json``."""
    classes = read_classes("ssv2")
    ann = dest / "labels"
    _write(ann / "labels.json", json.dumps({c: str(i) for i, c in enumerate(classes)}, indent=1))
    picked = {c: classes.index(c) for c in ("Holding something next to something",
                                            "Something falling like a feather or paper",
                                            "Spinning something that quickly stops spinning")}
    templates = {"Holding something next to something": "Holding [something] next to [something]",
                 "Something falling like a feather or paper": "[Something] falling like a feather or paper",
                 "Spinning something that quickly stops spinning": "Spinning [something] that quickly stops spinning"}
    train, val, vid = [], [], 1000
    for name, c in picked.items():
        for split in ("train", "train", "val"):
            vid += 7
            item = {"id": str(vid), "label": name.lower(), "template": templates[name], "placeholders": ["cube"]}
            (train if split == "train" else val).append(item)
            _video(dest / "20bn-something-something-v2" / f"{vid}.webm", c)
    _write(ann / "train.json", json.dumps(train))
    _write(ann / "validation.json", json.dumps(val))
    _write(ann / "test.json", json.dumps([{"id": "99999"}]))
    return {"root": dest / "20bn-something-something-v2", "annotations": ann, "videos": len(train) + len(val)}


def activitynet(dest: Path) -> dict:
    """``activity_net.v1-3.min.json`` (taxonomy + database) and whole videos ``videos/v_<id>.mp4``."""
    classes = read_classes("activitynet")
    picked = list(range(0, 200, 20))  # ten classes
    taxonomy = [{"nodeId": 0, "nodeName": "Root", "parentId": None, "parentName": None},
                {"nodeId": 1, "nodeName": "Sports", "parentId": 0, "parentName": "Root"}]
    taxonomy += [{"nodeId": 2 + i, "nodeName": c, "parentId": 1, "parentName": "Sports"} for i, c in enumerate(classes)]
    database = {}
    for c in picked:
        for subset, k in (("training", 2), ("validation", 1)):
            for i in range(k):
                vid = hashlib.sha256(f"anet{c}{subset}{i}".encode()).hexdigest()[:11]
                # the videos last FRAMES / FPS = 1 s: two segments of half a second
                database[vid] = {"subset": subset, "duration": 1.0, "resolution": "32x32",
                                 "url": f"https://www.youtube.com/watch?v={vid}",
                                 "annotations": [{"segment": [0.0, 0.5], "label": classes[c]},
                                                 {"segment": [0.5, 1.0], "label": classes[c]}]}
                _video(dest / "videos" / f"v_{vid}.mp4", c)
    database["testvideo01"] = {"subset": "testing", "duration": 10.0, "resolution": "32x32",
                               "url": "https://www.youtube.com/watch?v=testvideo01", "annotations": []}
    _write(dest / "activity_net.v1-3.min.json", json.dumps({"version": "VERSION 1.3", "taxonomy": taxonomy,
                                                             "database": database}))
    return {"root": dest / "videos", "annotations": dest, "videos": len(database) - 1}


CHARADES_HEADER = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length"


def charades(dest: Path) -> dict:
    """``Charades_v1_{train,test}.csv``, ``Charades_v1_classes.txt`` (CRLF) and ``Charades_v1_480/<id>.mp4``."""
    classes = read_classes("charades")
    _write(dest / "Charades_v1_classes.txt", "".join(f"c{i:03d} {c}\n" for i, c in enumerate(classes)), crlf=True)
    videos = {
        "train": [("46GP8", [92, 147]), ("N11GT", [98, 75, 127, 153]), ("A1B2C", [92]), ("D3E4F", [147, 98]),
                  ("G5H6I", [75]), ("J7K8L", [])],
        "test": [("M9N0O", [92, 147]), ("P1Q2R", [98]), ("S3T4U", [75, 153]), ("V5W6X", [])],
    }
    for split, items in videos.items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CHARADES_HEADER.split(","))
        for vid, labels in items:
            actions = ";".join(f"c{lab:03d} {1.5 + k:.2f} {8.25 + k:.2f}" for k, lab in enumerate(labels))
            w.writerow([vid, "HR43", "Kitchen", 6, 7, "Yes", "A person cooks, then looks out of a window.",
                        "food;stove;window", "A person cooks food.", actions, "24.83"])
            _video(dest / "Charades_v1_480" / f"{vid}.mp4", labels[0] if labels else 0)
        _write(dest / f"Charades_v1_{split}.csv", buf.getvalue())
    return {"root": dest / "Charades_v1_480", "annotations": dest, "videos": sum(map(len, videos.values()))}


BUILDERS = {"ucf101": ucf101, "hmdb51": hmdb51, "k400": kinetics, "ssv2": ssv2, "activitynet": activitynet,
            "charades": charades}


def main(argv: list[str]) -> int:
    name, dest = argv[0], Path(argv[1])
    info = BUILDERS[name](dest)
    print(json.dumps({k: str(v) for k, v in info.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def build_in_subprocess(name: str, dest: Path) -> dict:
    """Build tree ``name`` at ``dest`` in a fresh interpreter; returns its paths (``root``, ``annotations``)."""
    import os
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[3]
    shutil.rmtree(dest, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "bench.data.synthetic.official", name, str(dest)],
                         capture_output=True, text=True, env=env, check=True, timeout=300)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return {"dest": dest, "root": Path(info["root"]), "annotations": Path(info["annotations"]),
            "videos": int(info["videos"])}
