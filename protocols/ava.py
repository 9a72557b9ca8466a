"""AVA spatio-temporal action detection: frame mAP at IoU 0.5 on annotated keyframes.

Each keyframe's clip goes through the method's spatio-temporal feature map
(``model.feature_map(inputs) -> (B, D, T, h, w)``); the map is averaged over time and each
person box is pooled from it with ``torchvision.ops.roi_align`` and a spatial max (the SlowFast /
MMAction2 ``BBoxHeadAVA`` recipe: temporal average, spatial max), then a linear multi-label
classifier with one sigmoid per action (binary cross-entropy). As in MMAction2 (``AVADataset``,
``num_classes=81``), the classifier covers every annotated action (AVA: all 80 ids of the CSVs;
synthetic: the label map's and the training CSV's ids) and the label map's actions (AVA: 60) are
evaluated. Training uses the ground-truth boxes of the keyframes not in the excluded-timestamps
file (``AVADataset.filter_data``); testing uses the person proposals scoring at least
``min(proposal_thr, best score)`` (0.9, MMAction2's default; every box tied at the best score when
none reaches it). Frames keep their aspect ratio (``resize``); a batch of clips of different sizes
is zero-padded at the bottom/right, as MMAction2's data preprocessor pads, and boxes follow.
Detections are written in AVA's CSV format and scored by MMAction2's ``ava_eval``
(``bench/data/ava_files.py``): overall mAP and the pose / object-interaction / person-interaction groups.
What that metric consumes (the detection rows, the ground truth, label map, exclusions and groups) is
dumped as ``predictions_ava.npz`` and kept beside the record (``bench.predictions``).

Why a plain PyTorch loop rather than MMEngine's Runner: MMAction2's AVA dataset, RoI head and
``bbox2result`` path import mmdet, whose import needs mmcv's compiled ops (absent from mmcv-lite).
The loop is small, seeded (shuffling from ``spec.seed`` and the epoch) and evaluation is
deterministic (eval mode, no augmentation). It does not resume inside an episode.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from bench.data import ava_files as ava_data
from bench.data.catalog import LABELS_DIR, get_dataset
from bench.errors import ConfigError, DataError
from protocols import engine, lists, weights
from protocols.base import EPOCHS, INIT_FROM, SPLIT, Episode, Param, Protocol, Split, register_protocol

log = logging.getLogger(__name__)


class RoIActionHead(nn.Module):
    """RoI features from a ``(B, D, T, h, w)`` map -> per-box action logits (one sigmoid per action)."""

    def __init__(self, dim: int, num_classes: int, roi_size: int = 4, dropout: float = 0.5) -> None:
        super().__init__()
        self.roi_size = roi_size
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, fmap: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        """``boxes``: per clip, ``(N, 4)`` boxes normalised to the (padded) input frame."""
        x = fmap.mean(dim=2)  # temporal average
        h, w = x.shape[-2:]
        scale = torch.tensor([w, h, w, h], dtype=x.dtype, device=x.device)
        rois = roi_align(x, [b.to(x.dtype) * scale for b in boxes], output_size=self.roi_size, spatial_scale=1.0,
                         sampling_ratio=2, aligned=True)
        return self.fc(self.dropout(rois.amax(dim=(-2, -1))))  # spatial max


def _files(spec, dataset, split: str) -> ava_data.AVAFiles:
    """The AVA files of ``split`` (synthetic: the generator's; real: the user's dataset entry)."""
    ex, root = dataset.extra, dataset.video_root
    if dataset.synthetic:
        return ava_data.AVAFiles(
            gt_csv=dataset.split_file(split), label_map=ex["label_map"], proposals=ex["proposals"].get(split),
            exclusions=ex["exclusions"].get(split), frames_dir=ex.get("rawframes"), videos_dir=ex.get("videos"),
            fps=int(ex.get("ava_fps", ex.get("fps", 30))), timestamp_start=int(ex.get("timestamp_start", 900)),
            filename_tmpl=ex.get("filename_tmpl", "img_{:05d}.jpg"), start_index=int(ex.get("start_index", 1)),
            timestamp_end=int(ex["timestamp_end"]) if "timestamp_end" in ex else None)
    s = dataset.splits
    items = ava_data.read_label_map(s["label_map"] if "label_map" in s else LABELS_DIR / "ava_label_map.txt")
    label_map = ava_data.write_pbtxt(items, lists.lists_dir(spec) / "ava_label_map.pbtxt")
    return ava_data.AVAFiles(
        gt_csv=dataset.split_file(split), label_map=label_map, proposals=s.get(f"{split}_proposals"),
        exclusions=s.get(f"{split}_exclusions"), frames_dir=s.get("frames", root / "rawframes"),
        videos_dir=s.get("videos", root / "videos"), fps=30, timestamp_start=900, timestamp_end=1800)


def _split(spec, dataset, files: ava_data.AVAFiles, split: str) -> Split:
    """A Split whose list names each video of the CSV once (so the job checks that they all exist)."""
    videos = sorted({row.split(",")[0] for row in files.gt_csv.read_text().splitlines() if row.strip()})
    base = files.frames_dir if files.frames_dir is not None and files.frames_dir.is_dir() else files.videos_dir
    suffix = "" if base == files.frames_dir else ".mp4"
    rel = os.path.relpath(base, dataset.video_root)
    path = lists.lists_dir(spec) / f"ava_{split}_videos.txt"
    path.write_text("".join(f"{rel}/{v}{suffix} 0\n" for v in videos))
    extra = {"gt_csv": files.gt_csv, "label_map": files.label_map}
    extra.update({k: v for k, v in (("proposals", files.proposals), ("exclusions", files.exclusions)) if v})
    return Split(path, dataset.video_root, dataset.name, files=extra,
                 source={"derived": f"the videos of {files.gt_csv}", "format": "AVA v2.x CSV"})


def train_action_ids(items: list[tuple[int, str]], train_csv, synthetic: bool) -> list[int]:
    """The actions the classifier covers: AVA's 80 (MMAction2 trains all of them), or for a synthetic world the
    label map's ids and every id its training CSV annotates."""
    if not synthetic:
        return list(ava_data.AVA_ACTION_IDS)
    return sorted({i for i, _ in items} | ava_data.action_ids(train_csv))


@register_protocol
class AVA(Protocol):
    name = "ava"
    version = "2"  # issue 18: as the public code runs it
    defaults = {"train_split": "train", "test_split": "val", "epochs": None, "batch_size": 4, "lr": 1e-3,
                "backbone_lr_mult": 0.1, "train_backbone": True, "proposal_thr": 0.9, "action_thr": 0.002,
                "frame_interval": 2, "roi_size": 4, "init_from": None, "resize": "keep_ratio", "max_proposals": 1000}
    params = {"train_split": SPLIT, "test_split": SPLIT, "epochs": EPOCHS, "batch_size": Param("int", min=1),
              "lr": Param("float", min=0), "backbone_lr_mult": Param("float", min=0), "train_backbone": Param("bool"),
              "proposal_thr": Param("float", min=0, max=1), "action_thr": Param("float", min=0, max=1),
              "frame_interval": Param("int", min=1), "roi_size": Param("int", min=1), "init_from": INIT_FROM,
              # resize: keep_ratio = MMAction2's Resize(scale=(-1, size)); max_proposals: AVADataset.num_max_proposals
              "resize": Param("str", choices=tuple(ava_data.RESIZES)), "max_proposals": Param("int", min=1)}

    def validate_args(self) -> None:
        a = self.args
        if a["resize"] not in ava_data.RESIZES:
            raise ConfigError(f"ava.resize={a['resize']!r}; accepted: {', '.join(ava_data.RESIZES)} (keep_ratio: "
                              f"MMAction2's; letterbox/square for models that need a square input)")
        for key in ("batch_size", "frame_interval", "roi_size", "max_proposals"):
            if not isinstance(a[key], int) or a[key] < 1:
                raise ConfigError(f"ava.{key}={a[key]!r}: expected a positive integer")
        for key in ("proposal_thr", "action_thr"):
            if not 0 <= float(a[key]) <= 1:
                raise ConfigError(f"ava.{key}={a[key]!r}: expected a number in [0, 1]")

    def plan(self, spec, method, dataset) -> list[Episode]:
        if dataset.kind != "ava":
            raise ConfigError(f"protocol ava needs an AVA-format dataset (ava, syn_ava); {dataset.name!r} is "
                              f"a {dataset.kind} dataset")
        if self.args["init_from"] is not None:
            weights.resolve_init(self.args["init_from"], where="ava.init_from")
        tr, te = _files(spec, dataset, self.args["train_split"]), _files(spec, dataset, self.args["test_split"])
        items = ava_data.read_label_map(te.label_map)
        allowed = None if dataset.synthetic else ava_data.AVA_ACTION_IDS
        for f in (tr, te):
            ava_data.read_gt(f.gt_csv, allowed)  # ids outside AVA's 80 actions fail here
        if te.proposals is None:
            raise DataError(f"AVA {self.args['test_split']} split has no person proposals file")
        train_ids = train_action_ids(items, tr.gt_csv, dataset.synthetic)
        groups = ava_data.category_groups(items, dataset.synthetic)
        excluded = ava_data.read_exclusions(tr.exclusions)
        return [Episode("main", [n for _, n in items], test=_split(spec, dataset, te, "test"),
                        train=_split(spec, dataset, tr, "train"),
                        params={"label_ids": [i for i, _ in items], "train_ids": train_ids, "groups": groups,
                                "proposal_thr": self.args["proposal_thr"], "resize": self.args["resize"],
                                "excluded_train_keyframes": len(excluded & set(ava_data.read_gt(tr.gt_csv)))})]

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        torch.manual_seed(int(ctx.spec.seed))
        cfg = engine.episode_config(ctx, episode)
        init = weights.resolve_init(self.args["init_from"], "ava.init_from") if self.args["init_from"] else None
        model = engine.build_model(cfg, init=init)
        if not hasattr(model, "feature_map"):
            raise ConfigError(f"method {ctx.spec.method!r}: its model has no feature_map(inputs) hook "
                              f"((B, D, T, h, w) features), which the ava protocol pools boxes from")
        ids = episode.params["label_ids"]
        train_ids = episode.params.get("train_ids", ids)
        dataset = get_dataset(ctx.spec.dataset)
        files = {"train": _files(ctx.spec, dataset, self.args["train_split"]),
                 "test": _files(ctx.spec, dataset, self.args["test_split"])}
        reader = self._reader(cfg, files["train"])
        with torch.no_grad():
            first = next(iter(ava_data.read_gt(files["train"].gt_csv)))
            dim = self._features(ctx, model, self._batch(model, reader, [first])[0]).shape[1]
        head = RoIActionHead(dim, len(train_ids), self.args["roi_size"])
        loss, num_train = self._train(ctx, cfg, model, head, files["train"], train_ids)
        out_dir = ctx.work_dir / episode.name
        weights.save_state(nn.ModuleDict({"model": model, "head": head}), out_dir / weights.STATE_FILE)
        return {**self.evaluate(cfg, model, head, files["test"], ids, train_ids, episode.params["groups"], out_dir),
                "final_train_loss": loss, "num_train_keyframes": num_train, "num_train_actions": len(train_ids),
                "resize": self.args["resize"], "init": model.init_info}

    def _reader(self, cfg, files: ava_data.AVAFiles) -> ava_data.FrameReader:
        size = int(cfg.get("img_size") or 224)
        return ava_data.FrameReader(files, int(cfg.get("num_frames") or 8), self.args["frame_interval"], size,
                                    self.args["resize"])

    def _features(self, ctx, model, x: torch.Tensor) -> torch.Tensor:
        try:
            return model.feature_map(x)
        except (RuntimeError, ValueError, AssertionError) as e:
            if x.shape[-1] == x.shape[-2]:
                raise
            method = ctx.spec.method if ctx is not None else "?"
            raise ConfigError(f"ava.resize={self.args['resize']!r} gives {x.shape[-2]}x{x.shape[-1]} clips and method "
                              f"{method!r} cannot take a non-square input ({type(e).__name__}: {e}); use "
                              f"resize: letterbox (aspect ratio kept, padded to a square) or square") from e

    @staticmethod
    def _batch(model, reader, keys: list[tuple[str, int]]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised ``(B, C, T, H, W)`` clips of keyframes (the model's data preprocessor statistics), zero-padded
        bottom/right to the largest clip, and per clip the ``(4,)`` factors that map boxes normalised to the clip
        onto the padded frame."""
        clips = [torch.as_tensor(reader(v, ts)).float() for v, ts in keys]
        pre = model.data_preprocessor
        mean, std = pre.mean.view(-1, 1, 1, 1), pre.std.view(-1, 1, 1, 1)
        h, w = max(c.shape[-2] for c in clips), max(c.shape[-1] for c in clips)
        if reader.resize == "letterbox":  # the long side is the size: pad every clip to a square of it
            h = w = max(h, w, reader.size)
        x = torch.stack([F.pad((c - mean) / std, (0, w - c.shape[-1], 0, h - c.shape[-2])) for c in clips])
        scales = [torch.tensor([c.shape[-1] / w, c.shape[-2] / h] * 2) for c in clips]
        return x, scales

    def _train(self, ctx, cfg, model, head, files, ids) -> tuple[float | None, int]:
        gt = ava_data.read_gt(files.gt_csv)
        excluded = ava_data.read_exclusions(files.exclusions)
        keys, col = [k for k in gt if k not in excluded], {i: c for c, i in enumerate(ids)}
        epochs = int(self.args["epochs"] if self.args["epochs"] is not None else cfg.train_cfg["max_epochs"])
        params = [{"params": head.parameters(), "lr": self.args["lr"]}]
        model.requires_grad_(bool(self.args["train_backbone"]))
        if self.args["train_backbone"]:
            params.append({"params": [p for p in model.parameters() if p.requires_grad],
                           "lr": self.args["lr"] * self.args["backbone_lr_mult"]})
        opt = torch.optim.AdamW(params, weight_decay=1e-4)
        reader, bs, last = self._reader(cfg, files), self.args["batch_size"], None
        model.train(bool(self.args["train_backbone"]))
        head.train()
        for epoch in range(epochs):
            gen = torch.Generator().manual_seed(int(ctx.spec.seed) * 1000 + epoch)
            order = torch.randperm(len(keys), generator=gen)
            for start in range(0, len(keys), bs):
                batch = [keys[i] for i in order[start:start + bs].tolist()]
                x, scales = self._batch(model, reader, batch)
                boxes = [torch.as_tensor(np.stack([b for b, _ in gt[k]])) * s for k, s in zip(batch, scales)]
                target = torch.zeros(sum(len(gt[k]) for k in batch), len(ids))
                row = 0
                for k in batch:
                    for _, acts in gt[k]:
                        target[row, [col[a] for a in acts]] = 1.0
                        row += 1
                logits = head(self._features(ctx, model, x), boxes)
                loss = F.binary_cross_entropy_with_logits(logits, target)
                opt.zero_grad()
                loss.backward()
                opt.step()
                last = float(loss)
            log.info("ava epoch %d/%d: loss %.4f", epoch + 1, epochs, last or float("nan"))
        model.eval()
        head.eval()
        return last, len(keys)

    @torch.no_grad()
    def evaluate(self, cfg, model, head, files, ids, train_ids, groups, out_dir) -> dict[str, Any]:
        """Detections on every annotated keyframe (proposal boxes), written as CSV and scored by ``ava_eval``:
        the scores of the label map's actions ``ids`` among the classifier's ``train_ids``."""
        model.eval()
        head.eval()
        gt = ava_data.read_gt(files.gt_csv)
        proposals = ava_data.read_proposals(files.proposals)
        reader, rows = self._reader(cfg, files), []
        keys, col = list(gt), {i: c for c, i in enumerate(train_ids)}
        for start in range(0, len(keys), self.args["batch_size"]):
            batch = keys[start:start + self.args["batch_size"]]
            boxes = [torch.as_tensor(ava_data.keyframe_boxes(proposals, k, self.args["proposal_thr"],
                                                             self.args["max_proposals"])) for k in batch]
            x, scales = self._batch(model, reader, batch)
            scores = torch.sigmoid(head(self._features(None, model, x), [b * s for b, s in zip(boxes, scales)]))
            flat = [(k, b) for k, bs in zip(batch, boxes) for b in bs.numpy()]
            for (key, box), s in zip(flat, scores.numpy()):
                rows += [(key[0], key[1], box, a, float(s[col[a]])) for a in ids
                         if a in col and s[col[a]] >= self.args["action_thr"]]
        det = ava_data.write_detections(rows, out_dir / "detections.csv")
        metrics = ava_data.frame_map(det, files.gt_csv, files.label_map, files.exclusions, groups)
        kept = ava_data.prediction_arrays(det, files.gt_csv, files.label_map, files.exclusions, groups)
        np.savez_compressed(out_dir / ava_data.PREDICTIONS, **kept)  # what the mAP consumes (bench.predictions)
        return {**metrics, "num_keyframes": len(keys), "num_detections": len(rows), "detections": str(det)}
