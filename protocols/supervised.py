"""Fully supervised protocol: train on the training list, test on the validation list.

Reports top-1, top-5 and mean class accuracy, single-view and multi-view. Views are
``"<temporal clips>x<spatial crops>"``; the clips of a video are sampled deterministically
(``test_mode=True``) and their scores averaged the MMAction2 way (the head's ``average_clips``:
``'prob'`` or ``'score'``). The headline metrics (``top1``...) are the multi-view ones; the
single-view ones carry the suffix ``_1view``. ``average_clips`` (protocol parameter) sets the
head's field; ``None`` keeps the method config's value. The trained weights are saved in the
episode directory (``model_state.pth``) so that few-shot and zero-shot runs can start from them.
"""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError
from protocols import engine
from protocols.base import Episode, Protocol, register_protocol

METRICS = ("top1", "top5", "mean_class_acc")
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
    return out


@register_protocol
class Supervised(Protocol):
    name = "supervised"
    version = "2"  # issue 18: report, test_resize, sampling
    defaults = {"views": "1x1", "train_split": "train", "test_split": "val", "epochs": None, "average_clips": None,
                "report": "last", "report_every": None, "test_resize": None, "sampling": None}
    # parameter -> (type, accepted values or range, default meaning); for declarative validation (issue 15)
    types = {"report": ("str", engine.REPORTS, "last"),
             "report_every": ("int|null", ">= 1", "null: the method config's protocol_defaults, else 1"),
             "test_resize": ("int|null", ">= 1", "null: the method config's test pipeline"),
             "sampling": ("str|null", engine.SAMPLINGS, "null: the method config's protocol_defaults.views")}

    def validate_args(self) -> None:
        self.views = engine.parse_views(self.args["views"], where=f"{self.name}.views")
        check_average_clips(self.name, self.args["average_clips"])
        engine.check_report(self.name, self.args["report"])
        engine.check_positive_int(self.name, "report_every", self.args["report_every"], none_ok=True)
        engine.check_positive_int(self.name, "test_resize", self.args["test_resize"], none_ok=True)
        engine.check_sampling(self.name, self.args["sampling"])

    def plan(self, spec, method, dataset) -> list[Episode]:
        return [
            Episode(
                name="main",
                classes=list(dataset.classes),
                train=engine.split_of(dataset, self.args["train_split"]),
                test=engine.split_of(dataset, self.args["test_split"]),
                params={"views": self.args["views"], "report": self.args["report"],
                        "report_every": engine.report_every(self.name, spec, self.args["report_every"])[0],
                        "sampling": engine.view_sampling(spec, self.args["sampling"])},
            )
        ]

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        opts = dict(test_resize=self.args["test_resize"], sampling=episode.params["sampling"])
        cfg = engine.episode_config(ctx, episode, epochs=self.args["epochs"], **opts)
        runner = engine.train(ctx, cfg, report=self.args["report"], report_every=episode.params["report_every"])
        average = set_average_clips(runner.model, self.args["average_clips"])
        return {**evaluate_views(ctx, episode, runner.model, self.views, **opts), **engine.report_info(runner),
                "average_clips": average}


def check_average_clips(protocol: str, value) -> None:
    if value is not None and value not in AVERAGE_CLIPS:
        raise ConfigError(f"{protocol}.average_clips={value!r}; accepted: {', '.join(AVERAGE_CLIPS)} or null")
