"""Fully supervised protocol: train on the training list, test on the validation list.

Reports top-1, top-5 and mean class accuracy, single-view and multi-view. Views are
``"<temporal clips>x<spatial crops>"``; the clips of a video are sampled deterministically
(``test_mode=True``) and their scores averaged the MMAction2 way (the head's ``average_clips``:
``'prob'`` or ``'score'``). The headline metrics (``top1``...) are the multi-view ones; the
single-view ones carry the suffix ``_1view``. ``average_clips`` (protocol parameter) sets the
head's field; ``None`` keeps the method config's value. The trained weights are saved in the
episode directory (``model_state.pth``) so that few-shot and zero-shot runs can start from them.

``splits`` (e.g. ``[1, 2, 3]``): train and test each official split as one episode (``split<N>``:
``train_split<N>`` / ``val_split<N>``; the shipped split files when the user configured only a
root), and report each split (``top1_split1`` ...) and their mean as the headline, as UCF-101 and
HMDB-51 results are reported. Left at ``null``, one episode (``main``) trains on ``train_split`` and
tests on ``test_split``; on UCF-101 / HMDB-51 without a configured ``train`` list that is refused with
a message naming both ways (``splits=[1, 2, 3]``, or ``train_split=train_split1``), so that a grid
meant for split 1 never silently reports a three-split mean, nor the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError, DataError
from bench.metrics import MAP_DATASETS, map_of_dump
from protocols import engine, lists
from protocols.base import AVERAGE_CLIPS as AVERAGE_CLIPS_PARAM
from protocols.base import EPOCHS, SPLIT, VIEWS, Episode, Param, Protocol, register_protocol

METRICS = ("top1", "top5", "mean_class_acc")
# Datasets with three official train/test splits, reported as the mean over the splits.
THREE_SPLITS = ("ucf101", "hmdb51")
AVERAGE_CLIPS = ("prob", "score")


def set_average_clips(model, value: str | None) -> str | None:
    """Set the head's ``average_clips`` (MMAction2's view averaging); returns the value in effect."""
    head = getattr(getattr(model, "module", model), "cls_head", None)
    if head is None or not hasattr(head, "average_clips"):
        if value is not None:
            raise ConfigError(f"average_clips={value!r}: the model has no cls_head.average_clips to set")
        return None
    if value is not None:
        head.average_clips = value
    return head.average_clips


def evaluate_views(ctx: engine.RunContext, episode: Episode, model, views: tuple[int, int],
                   test_resize: int | None = None, sampling: str | None = None) -> dict[str, Any]:
    """Single-view and (when different) multi-view test metrics of a trained model.

    ``test_resize``: the short side the test pipeline resizes to before its crops (None: the method
    config's); ``sampling``: how the test clips' frames are taken (``protocols/sampling.py``)."""
    opts = dict(test_resize=test_resize, sampling=sampling)
    single = engine.test(engine.episode_config(ctx, episode, (1, 1), name="1view", **opts), model)
    out = {f"{k}_1view": single[k] for k in METRICS}
    if test_resize is not None:
        out["test_resize"] = test_resize
    if sampling is not None:
        out["sampling"] = sampling
    if views == (1, 1):
        out.update({k: single[k] for k in METRICS}, per_class=single["per_class"])
    else:
        multi = engine.test(engine.episode_config(ctx, episode, views, name="views", **opts), model)
        out.update({k: multi[k] for k in METRICS}, per_class=multi["per_class"])
    out["num_test_videos"] = single["num_test_videos"]
    out["views"] = f"{views[0]}x{views[1]}"
    if episode.test.dataset in MAP_DATASETS:  # ActivityNet: mAP over the classes next to top-1
        dump = ctx.work_dir / episode.name / "predictions_{}"
        out["mAP_1view"] = map_of_dump(Path(str(dump).format("1view")), len(episode.classes))
        out["mAP"] = out["mAP_1view"] if views == (1, 1) else map_of_dump(Path(str(dump).format("views")),
                                                                          len(episode.classes))
    return out


@register_protocol
class Supervised(Protocol):
    """Train and test; splits=[1,2,3]: UCF-101/HMDB-51 three-split mean; ActivityNet: top-1 and mAP (200 classes)."""

    name = "supervised"
    version = "2"  # issue 18: report, test_resize, sampling
    defaults = {"views": "1x1", "train_split": "train", "test_split": "val", "epochs": None, "average_clips": None,
                "splits": None, "report": "last", "report_every": None, "test_resize": None, "sampling": None}
    # report_every / sampling null: the method config's protocol_defaults (else 1, its views); test_resize null:
    # the method config's test pipeline
    params = {"views": VIEWS, "train_split": SPLIT, "test_split": SPLIT, "epochs": EPOCHS,
              "average_clips": AVERAGE_CLIPS_PARAM,
              "splits": Param("list", item="int", min=1, max=3, nonempty=True, nullable=True),
              "report": Param("str", choices=tuple(engine.REPORTS)),
              "report_every": Param("int", min=1, nullable=True),
              "test_resize": Param("int", min=1, nullable=True),
              "sampling": Param("str", choices=tuple(engine.SAMPLINGS), nullable=True)}

    def validate_args(self) -> None:
        self.views = engine.parse_views(self.args["views"], where=f"{self.name}.views")
        check_average_clips(self.name, self.args["average_clips"])
        splits = self.args["splits"]
        if splits is not None:
            if (not isinstance(splits, list) or not splits or len(set(splits)) != len(splits)
                    or any(s not in (1, 2, 3) or isinstance(s, bool) for s in splits)):
                raise ConfigError(f"supervised.splits={splits!r}: expected null or a non-empty list of distinct "
                                  f"split numbers drawn from [1, 2, 3]")
            if self.args["train_split"] != "train" or self.args["test_split"] != "val":
                raise ConfigError("supervised: give splits (train_split<N>/val_split<N> per split) or "
                                  "train_split/test_split, not both")
        engine.check_report(self.name, self.args["report"])
        engine.check_positive_int(self.name, "report_every", self.args["report_every"], none_ok=True)
        engine.check_positive_int(self.name, "test_resize", self.args["test_resize"], none_ok=True)
        engine.check_sampling(self.name, self.args["sampling"])

    def plan(self, spec, method, dataset) -> list[Episode]:
        numbers = self.args["splits"]
        train = self.args["train_split"]
        if (numbers is None and dataset.name in THREE_SPLITS and train not in dataset.splits
                and (dataset.name, train) not in lists.SHIPPED):
            raise DataError(
                f"supervised on {dataset.name}: no {self.args['train_split']!r} list is configured, and "
                f"{dataset.name} is evaluated per official split: give --arg splits=[1,2,3] (each split and "
                f"their mean) or --arg train_split=train_split1 --arg test_split=val_split1 (split 1 alone)"
            )
        common = {"views": self.args["views"], "report": self.args["report"],
                  "report_every": engine.report_every(self.name, spec, self.args["report_every"])[0],
                  "sampling": engine.view_sampling(spec, self.args["sampling"])}
        if numbers is None:
            return [Episode(
                name="main", classes=list(dataset.classes),
                train=lists.dataset_list(spec, dataset, self.args["train_split"]),
                test=lists.dataset_list(spec, dataset, self.args["test_split"]),
                params=dict(common),
            )]
        return [Episode(
            name=f"split{i}", classes=list(dataset.classes),
            train=lists.dataset_list(spec, dataset, f"train_split{i}"),
            test=lists.dataset_list(spec, dataset, f"val_split{i}"),
            params={**common, "split": i},
        ) for i in numbers]

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        opts = dict(test_resize=self.args["test_resize"], sampling=episode.params["sampling"])
        cfg = engine.episode_config(ctx, episode, epochs=self.args["epochs"], **opts)
        runner = engine.train(ctx, cfg, report=self.args["report"], report_every=episode.params["report_every"])
        average = set_average_clips(runner.model, self.args["average_clips"])
        out = {**evaluate_views(ctx, episode, runner.model, self.views, **opts), **engine.report_info(runner),
               "average_clips": average}
        if "split" in episode.params:
            out["split"] = episode.params["split"]
        return out

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        if not any("split" in r for r in results):
            return super().aggregate(results)
        return split_mean(results)


def split_mean(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each split's metrics (``top1_split1`` ...) and their mean (the headline ``top1`` ...)."""
    keys = [k for k in results[0] if isinstance(results[0][k], int | float) and not isinstance(results[0][k], bool)
            and k not in ("split", "num_test_videos")]
    out: dict[str, Any] = {}
    for key in keys:
        out[key] = float(np.mean([r[key] for r in results]))
        for r in results:
            out[f"{key}_split{r['split']}"] = r[key]
    out["num_splits"] = len(results)
    out["splits"] = [r["split"] for r in results]
    out["num_test_videos"] = sum(r.get("num_test_videos") or 0 for r in results)
    for key in ("views", "average_clips", "report", "reported_epoch"):
        if key in results[0]:
            out[key] = results[0][key]
    return out


def check_average_clips(protocol: str, value) -> None:
    if value is not None and value not in AVERAGE_CLIPS:
        raise ConfigError(f"{protocol}.average_clips={value!r}; accepted: {', '.join(AVERAGE_CLIPS)} or null")
