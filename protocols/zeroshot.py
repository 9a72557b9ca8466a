"""Zero-shot protocols: train on one dataset, score another dataset's videos against its class names.

Modes (as the published code of X-CLIP, BIKE, Text4Vis and ViFi-CLIP runs them, see
../shared/data/README.md):

- ``half``: ten repeats; repeat ``s`` keeps the classes ``np.random.permutation(C)[:C // 2]``
  after ``np.random.seed(s)`` (we use ``np.random.RandomState(s)``, the same stream without
  touching NumPy's global state), labels remapped to 0..C//2-1 in that order; reported as the
  mean and population standard deviation (ddof=0) of the ten accuracies.
- ``full``: every class of the whole dataset (its ``full`` list).
- ``k600``: the three shipped 160-class splits of the Kinetics-600 classes new in K600
  (synthetic: ``extra["zeroshot_splits"]``); mean and population std of top-1 and top-5.
- ``splits``: X-CLIP's / ViFi-CLIP's protocol: all classes of the target, each of its three
  official test splits (``val_split{1,2,3}``, ViFi-CLIP's ``datasets_splits/*/val{1,2,3}.txt``,
  one config per split in ``configs/zero_shot/eval``) an episode, reported as the mean and std
  of the three top-1s. Their code computes no std (one run per split config); we use ddof=0 as
  for the other modes. ``splits`` (parameter) picks a subset (``[1]``: ALT's "UCF split 1").

Scoring (``scoring``): ``model`` scores each video through the method's own test path;
``frames`` is BIKE's published zero-shot path (``test_zeroshot.py``, ``compute_accuracy``):
per-frame image-encoder features (no video head) against the L2-normalised class text
features, ``softmax(100 * f_t . t_c)`` per frame, averaged over the frames (and views).

The model is trained once (episode ``train``, on ``train_dataset``'s training list), or taken
from ``init_from`` (a checkpoint file or a finished run's id), or is the image-language model
alone; every test episode loads those weights and scores its class names through
``model.set_class_names``. Nothing is trained on the target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.data.catalog import get_dataset, read_label_csv
from bench.errors import ConfigError, DataError
from protocols import engine, lists, weights
from protocols.base import (
    AVERAGE_CLIPS,
    EPOCHS,
    INIT_FROM,
    SPLIT,
    VIEWS,
    Episode,
    Param,
    Protocol,
    Split,
    register_protocol,
)
from protocols.supervised import check_average_clips, evaluate_views, set_average_clips

MODES = ("half", "full", "k600", "splits")
SCORINGS = ("model", "frames")
METRICS = ("top1", "top5", "mean_class_acc")
# Twelve Kinetics-400 classes renamed in Kinetics-600 (K400 name -> K600 name); a K600 class under
# its new name is still a K400 class, which is why rebuilding the 220 new classes by name gives 232.
K400_RENAMED_IN_K600 = {
    "balloon blowing": "inflating balloons",
    "baby waking up": "waking up",
    "changing wheel": "changing wheel (not on bike)",
    "cooking sausages": "cooking sausages (not on barbeque)",
    "dying hair": "dyeing hair",
    "garbage collecting": "person collecting garbage",
    "hugging": "hugging (not baby)",
    "making bed": "making the bed",
    "opening bottle": "opening bottle (not wine)",
    "passing American football (not in game)": "passing american football (not in game)",
    "throwing ball": "throwing ball (not baseball or American football)",
    "tying tie": "tying necktie",
}


def half_class_ids(num_classes: int, repeat: int) -> list[int]:
    """Classes of half-class repeat ``repeat``: ``np.random.permutation(C)[:C // 2]`` after ``np.random.seed(repeat)``.

    ``RandomState(repeat)`` draws the same stream as the global generator seeded with ``repeat``.
    """
    return np.random.RandomState(repeat).permutation(num_classes)[: num_classes // 2].tolist()


def overlapping(train_classes: list[str], target_classes: list[str]) -> list[str]:
    """Target classes that are training classes (names compared loosely; K400's renamed classes included)."""
    seen = {lists.norm_name(c) for c in train_classes}
    seen |= {lists.norm_name(K400_RENAMED_IN_K600[c]) for c in train_classes if c in K400_RENAMED_IN_K600}
    return [c for c in target_classes if lists.norm_name(c) in seen]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof=0), as the papers report repeats."""
    return float(np.mean(values)), float(np.std(values, ddof=0))


@register_protocol
class ZeroShot(Protocol):
    name = "zeroshot"
    version = "2"  # issue 18: as the public code runs it
    defaults = {"mode": "half", "train_dataset": None, "train_split": "train", "init_from": None, "repeats": 10,
                "allow_overlap": None, "views": "1x1", "average_clips": None, "epochs": None, "splits": [1, 2, 3],
                "scoring": "model", "test_resize": None, "sampling": None, "report": "last",
                "report_every": 1}
    # splits: mode splits only; report: the training episode's reported epoch; test_resize null: the method
    # config's test pipeline; sampling null: the method config's protocol_defaults.views
    params = {"mode": Param("str", choices=MODES), "train_dataset": Param("str", nullable=True), "train_split": SPLIT,
              "init_from": INIT_FROM, "repeats": Param("int", min=1), "allow_overlap": Param("bool", nullable=True),
              "views": VIEWS, "average_clips": AVERAGE_CLIPS, "epochs": EPOCHS,
              "splits": Param("list", item="int", min=1, max=3, nonempty=True),
              "scoring": Param("str", choices=SCORINGS), "test_resize": Param("int", min=1, nullable=True),
              "sampling": Param("str", choices=tuple(engine.SAMPLINGS), nullable=True),
              "report": Param("str", choices=tuple(engine.REPORTS)), "report_every": Param("int", min=1)}
    requires_class_text = True

    def validate_args(self) -> None:
        a = self.args
        if a["mode"] not in MODES:
            raise ConfigError(f"zeroshot.mode={a['mode']!r}; accepted: {', '.join(MODES)}")
        if a["train_dataset"] is not None and a["init_from"] is not None:
            raise ConfigError("zeroshot: give train_dataset (train here) or init_from (a trained model), not both")
        if not isinstance(a["repeats"], int) or a["repeats"] < 1:
            raise ConfigError(f"zeroshot.repeats={a['repeats']!r}: expected a positive integer (the papers use 10)")
        if a["allow_overlap"] not in (None, True, False):
            raise ConfigError(f"zeroshot.allow_overlap={a['allow_overlap']!r}; accepted: true, false or null")
        self.views = engine.parse_views(a["views"], where="zeroshot.views")
        check_average_clips(self.name, a["average_clips"])
        splits = a["splits"]
        if (not isinstance(splits, list) or not splits or len(set(splits)) != len(splits)
                or any(s not in (1, 2, 3) for s in splits)):
            raise ConfigError(f"zeroshot.splits={splits!r}: expected a non-empty list of distinct splits from "
                              f"[1, 2, 3]")
        if a["scoring"] not in SCORINGS:
            raise ConfigError(f"zeroshot.scoring={a['scoring']!r}; accepted: {', '.join(SCORINGS)} (frames: BIKE's "
                              f"test_zeroshot.py path)")
        engine.check_positive_int(self.name, "test_resize", a["test_resize"], none_ok=True)
        engine.check_sampling(self.name, a["sampling"])
        engine.check_report(self.name, a["report"])
        engine.check_positive_int(self.name, "report_every", a["report_every"])

    @property
    def allow_overlap(self) -> bool:
        """Default: K600's new classes must not overlap training; half/full follow the published runs (allowed)."""
        value = self.args["allow_overlap"]
        return self.args["mode"] != "k600" if value is None else bool(value)

    def _training(self, spec) -> tuple[list[str] | None, Episode | None]:
        """Training classes and the training episode (None when the model comes from elsewhere)."""
        name = self.args["train_dataset"]
        if name is not None:
            src = get_dataset(name, where="zeroshot.train_dataset")
            train = lists.dataset_list(spec, src, self.args["train_split"])
            test = lists.dataset_list(spec, src, "val") if "val" in src.splits else train
            return list(src.classes), Episode("train", list(src.classes), test=test, train=train,
                                              params={"role": "train", "dataset": name})
        if self.args["init_from"] is None:
            return None, None
        path = weights.resolve_init(self.args["init_from"], where="zeroshot.init_from")
        return _run_classes(self.args["init_from"], path), None

    def _targets(self, spec, dataset) -> list[tuple[str, list[str], Split, dict[str, Any]]]:
        mode, out = self.args["mode"], []
        if mode == "k600":
            for i, (labels, split) in enumerate(_k600_splits(spec, dataset), 1):
                out.append((f"split{i}", labels, split, {"split": i}))
            return out
        if mode == "splits":
            for i in self.args["splits"]:
                out.append((f"split{i}", list(dataset.classes), lists.dataset_list(spec, dataset, f"val_split{i}"),
                            {"split": i}))
            return out
        full = lists.dataset_list(spec, dataset, "full")
        if mode == "full":
            return [("full", list(dataset.classes), full, {})]
        for s in range(self.args["repeats"]):
            ids = half_class_ids(len(dataset.classes), s)
            split = lists.subset_list(full, ids, lists.lists_dir(spec) / f"half_rep{s}.txt",
                                      how=f"np.random.seed({s}); np.random.permutation({len(dataset.classes)})"
                                          f"[:{len(dataset.classes) // 2}], labels remapped in that order")
            out.append((f"half_rep{s}", [dataset.classes[i] for i in ids], split, {"repeat": s, "class_ids": ids}))
        return out

    def plan(self, spec, method, dataset) -> list[Episode]:
        if "zeroshot" not in method.protocols:
            raise ConfigError(
                f"method {method.name!r} cannot score class names (its protocols: {', '.join(method.protocols)}), "
                f"so it cannot be evaluated zero-shot"
            )
        train_classes, train_ep = self._training(spec)
        episodes = [train_ep] if train_ep is not None else []
        sampling = engine.view_sampling(spec, self.args["sampling"])
        for name, classes, split, params in self._targets(spec, dataset):
            if train_classes is not None and not self.allow_overlap:
                common = overlapping(train_classes, classes)
                if common:
                    raise DataError(
                        f"zeroshot ({self.args['mode']}) on {dataset.name}, {name}: {len(common)} target classes are "
                        f"training classes ({common[:5]}) and allow_overlap is false"
                    )
            elif train_classes is None and not self.allow_overlap and self.args["init_from"] is not None:
                raise ConfigError("zeroshot.allow_overlap=false needs the training classes: give train_dataset or "
                                  "the run id of the run that trained the model")
            episodes.append(Episode(name, classes, test=split, train_classes=train_classes,
                                    params={"role": "test", "mode": self.args["mode"], "scoring": self.args["scoring"],
                                            "sampling": sampling, **params}))
        return episodes

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        if episode.params["role"] == "train":
            runner = engine.train(ctx, engine.episode_config(ctx, episode, epochs=self.args["epochs"]),
                                  report=self.args["report"], report_every=self.args["report_every"])
            return {"role": "train", "episode": episode.name, "trained_on": episode.params["dataset"],
                    "state": str(ctx.work_dir / episode.name / weights.STATE_FILE), "init": runner.init_info,
                    **engine.report_info(runner)}
        if self.args["train_dataset"] is not None:
            init = ctx.work_dir / "train" / weights.STATE_FILE
        elif self.args["init_from"] is not None:
            init = weights.resolve_init(self.args["init_from"], where="zeroshot.init_from")
        else:
            init = None
        opts = dict(test_resize=self.args["test_resize"], sampling=episode.params.get("sampling"))
        cfg = engine.episode_config(ctx, episode, self.views, **opts)
        model = engine.build_model(cfg, init=init)
        if not hasattr(model, "set_class_names"):
            raise ConfigError(f"method {ctx.spec.method!r}: its model has no set_class_names(names); "
                              f"it cannot score the target's class names")
        model.set_class_names(episode.classes)  # the target's class names, never trained on
        average = set_average_clips(model, self.args["average_clips"])
        scoring = self.args["scoring"]
        scorer = FrameScoring(model, ctx.spec.method) if scoring == "frames" else model
        out = evaluate_views(ctx, episode, scorer, self.views, **opts)
        return {**out, "role": "test", "episode": episode.name, "average_clips": average, "scoring": scoring,
                "init": model.init_info}

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        tests = [r for r in results if r.get("role") == "test"]
        out: dict[str, Any] = {"mode": self.args["mode"], "num_episodes": len(tests), "scoring": self.args["scoring"]}
        trained = [r for r in results if r.get("role") == "train"]
        if trained:  # the model scored was the training episode's best or last epoch
            out.update({k: trained[0][k] for k in ("report", "best_epoch") if k in trained[0]})
        for key in METRICS:
            out[key], out[f"{key}_std"] = mean_std([r[key] for r in tests])
        out["per_episode"] = {r["episode"]: {k: r[k] for k in METRICS} for r in tests}
        out["num_test_videos"] = sum(r["num_test_videos"] or 0 for r in tests)
        return out


def _k600_splits(spec, dataset) -> list[tuple[list[str], Split]]:
    """The three zero-shot class splits: (class names in label order, test list)."""
    if dataset.synthetic:
        zs = dataset.extra.get("zeroshot_splits")
        if not zs:
            raise DataError(f"dataset {dataset.name!r} has no zero-shot class splits (extra['zeroshot_splits'])")
        return [(read_label_csv(z["labels"]), Split(z["test"], dataset.video_root, dataset.name,
                                                    files={"labels": z["labels"]})) for z in zs]
    if dataset.name != "k600":
        raise ConfigError(f"zeroshot.mode=k600 needs the dataset k600 (or a synthetic K600-like one), got "
                          f"{dataset.name!r}")
    out = []
    for i in (1, 2, 3):
        labels_file = lists.SPLITS_DIR / "k600_zeroshot" / f"k160_labels_split{i}.csv"
        names = read_label_csv(labels_file)
        unknown = [n for n in names if n not in dataset.classes]
        if unknown:
            raise DataError(f"{labels_file}: {len(unknown)} classes are not Kinetics-600 classes: {unknown[:5]}")
        split = lists.dataset_list(spec, dataset, f"zeroshot_split{i}")
        split.files = {"labels": labels_file}
        out.append((names, split))
    return out


def _run_classes(init_from: str, path) -> list[str] | None:
    """The training classes of a finished run given by id (None for a bare checkpoint file)."""
    from pathlib import Path

    from bench.store import Store

    if Path(str(init_from)).expanduser().is_file():
        return None
    record = Store().read(str(init_from))
    for ep in record.get("episodes", []):
        info = ep.get("episode", {})
        if "train" in info:
            return info.get("train_classes") or info.get("classes")
    return None


def frame_parts(model, method: str):
    """``(image encoder, class text features (C, D))`` of a model that BIKE's frame scoring can use.

    The image encoder is the CLIP visual tower that encodes each frame (``backbone.visual``); the
    class features are the sentence ([EOT]) embeddings of the class prompts the head scores against
    (``cls_head.video_categories()["cls"]``, BIKE's ``cls_feature``)."""
    visual = getattr(getattr(model, "backbone", None), "visual", None)
    head = getattr(model, "cls_head", None)
    if visual is None or not hasattr(head, "video_categories"):
        raise ConfigError(f"zeroshot.scoring=frames (BIKE's test_zeroshot.py path) needs a model with a per-frame "
                          f"image encoder (backbone.visual) and class sentence embeddings "
                          f"(cls_head.video_categories()['cls']); method {method!r} has not")
    return visual, head.video_categories()["cls"]


def frame_probs(frame_features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """BIKE's ``compute_accuracy``: ``softmax(100 * f @ normalize(t).T)`` per frame, mean over frames.

    ``frame_features``: ``(B, N, D)`` image-encoder outputs of the N frames (of all views), not normalised
    (as BIKE's ``encode_image`` returns them); ``text``: ``(C, D)``. Returns ``(B, C)`` probabilities."""
    sims = 100.0 * frame_features.float() @ F.normalize(text.float(), dim=-1).t()
    return sims.softmax(dim=-1).mean(dim=1)


class FrameScoring(torch.nn.Module):
    """A test-time model that scores videos the ``frames`` way (MMEngine's test loop calls ``test_step``)."""

    def __init__(self, model, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method
        self.data_preprocessor = model.data_preprocessor
        frame_parts(model, method)  # refuse early

    def test_step(self, data):
        from mmengine.structures import LabelData

        data = self.data_preprocessor(data, False)
        inputs, samples = data["inputs"], data["data_samples"]
        visual, text = frame_parts(self.model, self.method)
        x = inputs if inputs.ndim == 6 else inputs[:, None]  # (B, views, C, T, H, W)
        b, v, c, t, h, w = x.shape
        with torch.no_grad():
            feats = visual(x.permute(0, 1, 3, 2, 4, 5).reshape(b * v * t, c, h, w)).view(b, v * t, -1)
            probs = frame_probs(feats, text.to(feats.device))
        for sample, p in zip(samples, probs):
            sample.pred_scores = LabelData(item=p)
            sample.pred_labels = LabelData(item=p.argmax(dim=-1, keepdim=True))
        return samples

    def val_step(self, data):
        return self.test_step(data)
