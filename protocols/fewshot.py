"""K-shot protocol: train on exactly K videos per class of train split 1, test single-view on val split 1.

The training list is the fixed published one where it exists (UCF-101 / HMDB-51, ViFi-CLIP's
``train1_few_shot_{K}.txt`` in ``protocols/splits/fewshot``; the synthetic targets ship their
own in ``extra["fewshot"]``), else it is drawn with a recorded seed (``list=draw``, or a
dataset without a list for that K): ``np.random.default_rng([seed, K])`` picks K videos per
class. The published code draws with an unseeded ``random``; fixed lists are what makes runs
comparable (see ../shared/data/README.md).

How often an epoch repeats the K-shot list is ``repeat`` (MMEngine's ``RepeatDataset``):

- ``floor``: ``full train size // K-shot size`` times, as BIKE's ``train.py`` does
  (``n_repeat = len(train_data.video_list) // len(select_vids)``);
- ``none``: the K-shot list itself, once per epoch, as X-CLIP's and ViFi-CLIP's ``main.py``
  train it (50 epochs in their few-shot configs);
- ``ceil``: ``ceil(full train size / K-shot size)`` times (an epoch at least as long as a
  full-data one; no public code does exactly this, kept as a named choice).

``repeat: null`` and ``epochs: null`` take the method config's ``protocol_defaults["fewshot"]``
(each method's public code, see its README), else ``ceil`` and the config's ``max_epochs``.
Training may start from a checkpoint (``init_from``: a file of tensors, or
the run id of a finished supervised run, e.g. on Kinetics-400) or from the image-language model
alone (``init_from: null``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.data.catalog import read_annotation_list
from bench.errors import ConfigError, DataError
from protocols import engine, lists, weights
from protocols.base import AVERAGE_CLIPS, EPOCHS, INIT_FROM, SPLIT, Episode, Param, Protocol, Split, register_protocol
from protocols.supervised import check_average_clips, evaluate_views, set_average_clips

LIST_SOURCES = ("published", "draw")
REPEATS = ("ceil", "floor", "none")


def repeat_times(mode: str, full_size: int, few_size: int) -> int:
    """How many times an epoch goes through the K-shot list under ``mode`` (``REPEATS``)."""
    if mode == "floor":
        return max(1, full_size // few_size)
    if mode == "ceil":
        return math.ceil(full_size / few_size)
    return 1


def draw_fewshot(src: Split, classes: list[str], k: int, seed: int, dst) -> Split:
    """Exactly ``k`` videos per class of ``src``, drawn with ``np.random.default_rng([seed, k])``."""
    by_class: dict[int, list[str]] = {}
    for path, label in read_annotation_list(src.ann_file):
        by_class.setdefault(label, []).append(path)
    rng = np.random.default_rng([seed, k])
    lines = []
    for label in range(len(classes)):
        vids = by_class.get(label, [])
        pick = sorted(rng.choice(len(vids), size=k, replace=False).tolist())
        lines += [f"{vids[i]} {label}" for i in pick]
    dst.write_text("".join(f"{line}\n" for line in lines))
    source = {"file": str(src.ann_file), "sha256": lists.file_sha256(src.ann_file),
              "derived": f"{k} per class drawn with np.random.default_rng([{seed}, {k}])", "seed": seed}
    return Split(dst, src.video_root, src.dataset, source=source)


def check_k(full: Split, classes: list[str], k: int) -> None:
    """Refuse K larger than a class's number of training videos (names the class)."""
    counts = lists.count_per_class(full.ann_file)
    short = [(classes[c], counts.get(c, 0)) for c in range(len(classes)) if counts.get(c, 0) < k]
    if short:
        largest = min(counts.get(c, 0) for c in range(len(classes)))
        raise DataError(
            f"fewshot.shots={k}: {len(short)} class(es) of {full.dataset} have fewer than {k} training videos in "
            f"{full.ann_file}; first: {short[:5]}; K must be at most {largest}"
        )


def check_exactly_k(split: Split, classes: list[str], k: int) -> None:
    counts = lists.count_per_class(split.ann_file)
    bad = [(classes[c] if c < len(classes) else c, counts.get(c, 0)) for c in set(range(len(classes))) | set(counts)
           if counts.get(c, 0) != k]
    if bad:
        raise DataError(f"few-shot list {split.ann_file} must hold exactly {k} videos per class; off: {bad[:5]}")


@register_protocol
class FewShot(Protocol):
    name = "fewshot"
    version = "2"  # issue 18: as the public code runs it
    defaults = {"shots": 2, "list": "published", "seed": None, "train_split": "train_split1",
                "test_split": "val_split1", "init_from": None, "epochs": None, "average_clips": None,
                "repeat": None, "report": "last", "report_every": None, "test_resize": None, "sampling": None}
    # repeat / epochs / report_every / sampling null: the method config's protocol_defaults (else 'ceil',
    # max_epochs, 1, its views); test_resize null: the method config's test pipeline
    params = {"shots": Param("int", min=1), "list": Param("str", choices=LIST_SOURCES),
              "seed": Param("int", min=0, nullable=True), "train_split": SPLIT, "test_split": SPLIT,
              "init_from": INIT_FROM, "epochs": EPOCHS, "average_clips": AVERAGE_CLIPS,
              "repeat": Param("str", choices=tuple(REPEATS), nullable=True),
              "report": Param("str", choices=tuple(engine.REPORTS)),
              "report_every": Param("int", min=1, nullable=True),
              "test_resize": Param("int", min=1, nullable=True),
              "sampling": Param("str", choices=tuple(engine.SAMPLINGS), nullable=True)}

    def validate_args(self) -> None:
        k = self.args["shots"]
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"fewshot.shots={k!r}: expected a positive integer (the papers use 2, 4, 8, 16)")
        if self.args["list"] not in LIST_SOURCES:
            raise ConfigError(f"fewshot.list={self.args['list']!r}; accepted: {', '.join(LIST_SOURCES)}")
        check_average_clips(self.name, self.args["average_clips"])
        if self.args["repeat"] is not None and self.args["repeat"] not in REPEATS:
            raise ConfigError(f"fewshot.repeat={self.args['repeat']!r}; accepted: {', '.join(REPEATS)} or null "
                              f"(the method's default)")
        engine.check_positive_int(self.name, "epochs", self.args["epochs"], none_ok=True)
        engine.check_report(self.name, self.args["report"])
        engine.check_positive_int(self.name, "report_every", self.args["report_every"], none_ok=True)
        engine.check_positive_int(self.name, "test_resize", self.args["test_resize"], none_ok=True)
        engine.check_sampling(self.name, self.args["sampling"])

    def schedule(self, spec) -> dict[str, Any]:
        """``repeat`` and ``epochs`` in effect, and where each came from (protocol, method config, fallback)."""
        cfg = engine.resolved_config(spec)
        method = dict((cfg.get("protocol_defaults") or {}).get(self.name) or {})
        out = {}
        for key, fallback in (("repeat", "ceil"), ("epochs", int(cfg.train_cfg["max_epochs"]))):
            if self.args[key] is not None:
                out[key], out[f"{key}_from"] = self.args[key], "protocol"
            elif method.get(key) is not None:
                out[key], out[f"{key}_from"] = method[key], f"{spec.method} config protocol_defaults"
            else:
                out[key], out[f"{key}_from"] = fallback, "harness default" if key == "repeat" else "max_epochs"
        if out["repeat"] not in REPEATS:
            raise ConfigError(f"{spec.method} config protocol_defaults.fewshot.repeat={out['repeat']!r}; accepted: "
                              f"{', '.join(REPEATS)}")
        engine.check_positive_int(self.name, "epochs", out["epochs"])
        return out

    def _train_list(self, spec, dataset, full: Split, k: int) -> Split:
        published = dataset.extra.get("fewshot", {}).get(k) if dataset.synthetic else None
        if self.args["list"] == "published" and published is not None:
            return Split(published, dataset.video_root, dataset.name,
                         source={"file": str(published), "published": "synthetic dataset's K-shot list"})
        if self.args["list"] == "published" and (dataset.name, f"fewshot_{k}") in lists.SHIPPED:
            return lists.dataset_list(spec, dataset, f"fewshot_{k}")
        seed = spec.seed if self.args["seed"] is None else int(self.args["seed"])
        return draw_fewshot(full, dataset.classes, k, seed, lists.lists_dir(spec) / f"fewshot_{k}shot_seed{seed}.txt")

    def plan(self, spec, method, dataset) -> list[Episode]:
        k = self.args["shots"]
        full = lists.dataset_list(spec, dataset, self.args["train_split"])
        check_k(full, dataset.classes, k)
        train = self._train_list(spec, dataset, full, k)
        check_exactly_k(train, dataset.classes, k)
        full_size, few_size = len(read_annotation_list(full.ann_file)), len(read_annotation_list(train.ann_file))
        sched = self.schedule(spec)
        times = repeat_times(sched["repeat"], full_size, few_size)
        if self.args["init_from"] is not None:
            weights.resolve_init(self.args["init_from"], where="fewshot.init_from")
        return [Episode(
            name=f"{k}shot", classes=list(dataset.classes), train=train,
            test=lists.dataset_list(spec, dataset, self.args["test_split"]),
            params={"shots": k, "repeat": times, "repeat_mode": sched["repeat"], "repeat_from": sched["repeat_from"],
                    "epochs": sched["epochs"], "epochs_from": sched["epochs_from"], "epoch_length": times * few_size,
                    "full_train_size": full_size, "views": "1x1", "init_from": self.args["init_from"],
                    "report": self.args["report"],
                    "report_every": engine.report_every(self.name, spec, self.args["report_every"])[0],
                    "sampling": engine.view_sampling(spec, self.args["sampling"])},
        )]

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        init = None
        if self.args["init_from"] is not None:
            init = weights.resolve_init(self.args["init_from"], where="fewshot.init_from")
        opts = dict(test_resize=self.args["test_resize"], sampling=episode.params["sampling"])
        cfg = engine.episode_config(ctx, episode, repeat=episode.params["repeat"], epochs=episode.params["epochs"],
                                    **opts)
        runner = engine.train(ctx, cfg, init=init, report=self.args["report"],
                              report_every=episode.params["report_every"])
        average = set_average_clips(runner.model, self.args["average_clips"])
        out = evaluate_views(ctx, episode, runner.model, (1, 1), **opts)
        return {**out, **engine.report_info(runner), "shots": episode.params["shots"], "average_clips": average,
                "init": runner.init_info}
