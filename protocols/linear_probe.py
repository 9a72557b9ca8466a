"""Linear probe: freeze the method's video representation, fit a linear classifier, report top-1 per split.

The representation is the model's ``video_features(inputs)`` hook (``(B, D)`` per video), computed
once per video with the deterministic single-view test pipeline for both the training and the
test list, and cached in the episode directory. The classifier is an L2-regularised multinomial
logistic regression fitted full-batch with L-BFGS (the CLIP paper's linear-probe recipe, in
PyTorch instead of scikit-learn), on features standardised with the training set's statistics.
Reported as top-1 per split and its average over the three splits (ALT, Table 6).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import ConfigError
from protocols import engine, lists, weights
from protocols.base import INIT_FROM, Episode, Param, Protocol, Split, register_protocol

log = logging.getLogger(__name__)


@torch.no_grad()
def extract_features(cfg, model, split: Split, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(features, labels)`` of every video of ``split`` (cached as ``cache``.npz)."""
    if cache.exists():
        data = np.load(cache)
        return data["features"], data["labels"]
    loader_cfg = dict(cfg.test_dataloader)
    loader_cfg["dataset"] = {**loader_cfg["dataset"], "ann_file": str(split.ann_file),
                             "data_prefix": dict(video=str(split.video_root))}
    loader = engine.build_loader(loader_cfg)
    feats, labels = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        feats.append(model.video_features(data["inputs"]).float().cpu())
        labels += [int(s.gt_labels.item) for s in data["data_samples"]]
    out = torch.cat(feats).numpy(), np.asarray(labels)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, features=out[0], labels=out[1])
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float, max_iter: int) -> torch.nn.Linear:
    """Multinomial logistic regression, L2 penalty ``l2 * ||W||^2 / 2``, fitted with L-BFGS (deterministic)."""
    torch.manual_seed(0)
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y)
    clf = torch.nn.Linear(x.shape[1], num_classes).double()
    torch.nn.init.zeros_(clf.weight)
    torch.nn.init.zeros_(clf.bias)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(clf(xt), yt) + 0.5 * l2 * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return clf


def accuracy(scores: torch.Tensor, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    y = torch.as_tensor(labels)
    top = scores.topk(min(5, num_classes), dim=1).indices
    pred = top[:, 0]
    per_class = [float((pred[y == c] == c).double().mean()) for c in range(num_classes) if (y == c).any()]
    return {"top1": 100 * float((pred == y).double().mean()),
            "top5": 100 * float((top == y[:, None]).any(dim=1).double().mean()),
            "mean_class_acc": 100 * float(np.mean(per_class))}


@register_protocol
class LinearProbe(Protocol):
    name = "linear_probe"
    version = "1"
    defaults = {"splits": [1, 2, 3], "init_from": None, "l2": 1e-3, "max_iter": 500}
    params = {"splits": Param("list", item="int", min=1, max=3, nonempty=True), "init_from": INIT_FROM,
              "l2": Param("float", min=0), "max_iter": Param("int", min=1)}

    def validate_args(self) -> None:
        splits = self.args["splits"]
        if not isinstance(splits, list) or not splits or any(s not in (1, 2, 3) for s in splits):
            raise ConfigError(f"linear_probe.splits={splits!r}: expected a non-empty list drawn from [1, 2, 3]")
        if not float(self.args["l2"]) >= 0:
            raise ConfigError(f"linear_probe.l2={self.args['l2']!r}: expected a number >= 0")

    def plan(self, spec, method, dataset) -> list[Episode]:
        if self.args["init_from"] is not None:
            weights.resolve_init(self.args["init_from"], where="linear_probe.init_from")
        episodes = []
        for i in self.args["splits"]:
            episodes.append(Episode(
                name=f"split{i}", classes=list(dataset.classes),
                train=lists.dataset_list(spec, dataset, f"train_split{i}"),
                test=lists.dataset_list(spec, dataset, f"val_split{i}"),
                params={"split": i, "l2": self.args["l2"], "init_from": self.args["init_from"]},
            ))
        return episodes

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        init = None
        if self.args["init_from"] is not None:
            init = weights.resolve_init(self.args["init_from"], where="linear_probe.init_from")
        cfg = engine.episode_config(ctx, episode)
        model = engine.build_model(cfg, init=init)
        if not hasattr(model, "video_features"):
            raise ConfigError(f"method {ctx.spec.method!r}: its model has no video_features(inputs) hook")
        model.requires_grad_(False)
        out_dir = ctx.work_dir / episode.name
        x_tr, y_tr = extract_features(cfg, model, episode.train, out_dir / "features_train.npz")
        x_te, y_te = extract_features(cfg, model, episode.test, out_dir / "features_test.npz")
        mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
        clf = fit_logistic((x_tr - mean) / std, y_tr, len(episode.classes), float(self.args["l2"]),
                           int(self.args["max_iter"]))
        with torch.no_grad():
            scores = clf(torch.as_tensor((x_te - mean) / std, dtype=torch.float64))
        return {**accuracy(scores, y_te, len(episode.classes)), "split": episode.params["split"],
                "num_train_videos": len(y_tr), "num_test_videos": len(y_te), "feature_dim": int(x_tr.shape[1]),
                "init": model.init_info}

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("top1", "top5", "mean_class_acc"):
            out[key] = float(np.mean([r[key] for r in results]))
            for r in results:
                out[f"{key}_split{r['split']}"] = r[key]
        out["num_splits"] = len(results)
        return out
