"""Multi-label recognition (Charades): train on one line per action instance, report mAP over the classes.

Charades videos hold several actions (``actions`` field of ``Charades_v1_{train,test}.csv``). As
BIKE's Charades code does (``lists/charades/Charades_train_split_label.csv``: one row per action
instance, trained with the single-label objective of the method), the training list has one line
``<video> <class>`` per action of a video; the whole video is used (BIKE samples inside the
instance's segment; our lists keep no times). The test list is multi-label (``<video> <l1> <l2> ...``,
MMAction2 ``VideoDataset(multi_class=True)``), every video of ``Charades_v1_test.csv`` including
those without an action, and the metric is MMAction2's ``mean_average_precision``: per class, the
area under the precision-recall curve of the video scores (non-interpolated AP, as the official
``Charades_v1_classify.m``), averaged over the classes that have a positive video. Test views
default to BIKE's Charades test, 4 clips x 1 crop (``test_charades.py``), clip scores averaged
as the head's ``average_clips`` says.

Also here: ``map_of_dump``, the same mAP for single-label datasets (ActivityNet v1.3 reports top-1
and mAP over its 200 classes) computed from the scores ``BenchAccMetric`` dumps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.catalog import read_multilabel_list
from bench.errors import ConfigError, DataError
from bench.metrics import MAP_DATASETS, map_of_dump, mean_ap  # noqa: F401 - their home is bench.metrics
from protocols import engine, lists
from protocols.base import Episode, Protocol, Split, file_sha256, register_protocol
from protocols.supervised import check_average_clips, set_average_clips


def instance_list(src: Split, dst: Path) -> Split:
    """One ``<video> <class>`` line per (video, action) of a multi-label list (videos without an action drop out)."""
    lines = [f"{path} {lab}" for path, labs in read_multilabel_list(src.ann_file) for lab in labs]
    if not lines:
        raise DataError(f"{src.ann_file}: no video has an action; nothing to train on")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(f"{line}\n" for line in lines))
    source = {"file": str(src.ann_file), "sha256": file_sha256(src.ann_file),
              "derived": "one line per action instance (BIKE's Charades_train_split_label.csv)"}
    return Split(dst, src.video_root, src.dataset, source=source)


@register_protocol
class MultiLabel(Protocol):
    """Charades: multi-label mAP over its 157 classes on the validation set, BIKE's 4x1 test views."""

    name = "charades"
    version = "1"
    defaults = {"views": "4x1", "train_split": "train", "test_split": "val", "epochs": None, "average_clips": None}

    def validate_args(self) -> None:
        self.views = engine.parse_views(self.args["views"], where=f"{self.name}.views")
        check_average_clips(self.name, self.args["average_clips"])

    def plan(self, spec, method, dataset) -> list[Episode]:
        if dataset.kind != "multilabel":
            raise ConfigError(f"protocol 'charades' needs a multi-label dataset (charades); {dataset.name!r} has one "
                              f"label per video: use supervised")
        full = lists.dataset_list(spec, dataset, self.args["train_split"])
        train = instance_list(full, lists.lists_dir(spec) / f"{dataset.name}_{self.args['train_split']}_instances.txt")
        test = lists.dataset_list(spec, dataset, self.args["test_split"])
        test.multilabel = True
        return [Episode("main", list(dataset.classes), test=test, train=train, params={"views": self.args["views"]})]

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        runner = engine.train(ctx, engine.episode_config(ctx, episode, epochs=self.args["epochs"]))
        average = set_average_clips(runner.model, self.args["average_clips"])
        out: dict[str, Any] = {"average_clips": average, "views": self.args["views"]}
        for views, name, suffix in (((1, 1), "1view", "_1view"), (self.views, "views", "")):
            if suffix == "" and views == (1, 1):
                out["mAP"] = out["mAP_1view"]
                continue
            out[f"mAP{suffix}"], n = test_map(ctx, episode, runner.model, views, name)
            out["num_test_videos"] = n
        return out


def test_map(ctx: engine.RunContext, episode: Episode, model, views: tuple[int, int], name: str) -> tuple[float, int]:
    """mAP (percent) of ``model`` on the episode's multi-label test list, and the number of test videos."""
    cfg = engine.episode_config(ctx, episode, views, name=name)
    cfg.test_dataloader["dataset"].update(multi_class=True, num_classes=len(episode.classes))
    # AccMetric's mAP, with the scores and labels dumped for the run's prediction file (issue 23)
    cfg.test_evaluator = dict(type="BenchMultiLabelMetric", metric_list=("mean_average_precision",),
                              dump_path=cfg.test_evaluator["dump_path"])
    raw = engine.build_runner(cfg, model=model).test()
    return 100 * float(raw["acc/mean_average_precision"]), len(read_multilabel_list(episode.test.ann_file))
