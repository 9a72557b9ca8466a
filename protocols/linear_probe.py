"""Linear probe: freeze the method's video representation, fit a linear classifier, report top-1 per split.

The representation is the model's ``video_features(inputs)`` hook (``(B, D)`` per video), computed
once per video with the deterministic single-view test pipeline for both the training and the
test list, and cached in the episode directory. The classifier is fitted by ``recipe``:

- ``lbfgs`` (default, the harness's earlier fit kept as a named choice): L2-regularised
  multinomial logistic regression, full batch, L-BFGS, a fixed strength ``l2``, on features
  standardised with the training set's statistics.
- ``clip``: CLIP's linear-probe recipe (Radford et al. 2021, appendix A.3): the same logistic
  regression, its L2 strength chosen on a held-out part of the training split (``val_fraction`` of
  each class, drawn with ``np.random.default_rng([seed, split])``) by CLIP's parametric binary
  search (start at 1e-6, 1e-4, ..., 1e6; halve the step around the best until 8 steps per decade),
  then refitted on the whole training split with that strength.
- ``alt``: ALT's Table 6 (section 4.4): a linear layer trained with the method's AdamW schedule
  (the config's betas, weight decay, epochs and warm-up, cosine decay) at ``lr`` 4e-4, mini-batches
  of ``batch_size``, on the frozen single-view features (not standardised, as a layer on the
  representation). Features are computed once (no training augmentation).

Reported as top-1 per split and its average over the three splits (ALT, Table 6). Top-1, top-5 and mean class
accuracy are MMAction2's (as every protocol reports them); each split's test scores are dumped
(``predictions_1view.npz``) so that the run keeps its per-video predictions (``bench.predictions``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench import stats
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
    """top-1, top-5 and mean class accuracy (percent) as MMAction2 computes them (``top_k_accuracy``'s
    ``np.argsort`` order, so ties break as there; ``mean_class_accuracy`` over the classes that are a label or a
    prediction), i.e. as every other protocol's ``BenchAccMetric`` does and as ``bench.predictions`` recomputes them
    from the kept predictions."""
    top = top_classes(scores.detach().cpu().numpy(), num_classes)
    return stats.metric_values(np.asarray(labels), top)


def top_classes(scores: np.ndarray, num_classes: int) -> np.ndarray:
    k = min(5, num_classes)
    return np.argsort(scores, axis=1)[:, -k:][:, ::-1]


def dump_predictions(out_dir: Path, scores: torch.Tensor, labels: np.ndarray) -> Path:
    """The test scores and labels in ``BenchAccMetric``'s dump format (``predictions_1view.npz``: the features come
    from the single-view test pipeline), from which ``bench.predictions`` keeps the per-video predictions."""
    path = out_dir / "predictions_1view.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, scores=scores.detach().cpu().numpy(), labels=np.asarray(labels, dtype=np.int64))
    return path


RECIPES = ("lbfgs", "clip", "alt")
CLIP_START = (1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6)


def holdout(y: np.ndarray, fraction: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, held out)``: ``ceil(fraction * n_c)`` videos of each class with two or more held out,
    drawn with ``np.random.default_rng(seed)`` class by class in label order."""
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = int(np.ceil(fraction * len(idx))) if len(idx) > 1 else 0
        pick = rng.permutation(idx)
        val += pick[:k].tolist()
        fit += pick[k:].tolist()
    return np.sort(fit), np.sort(val)


def clip_sweep(x: np.ndarray, y: np.ndarray, num_classes: int, fraction: float, seed,
               max_iter: int) -> tuple[float, list[dict[str, float]]]:
    """CLIP's parametric binary search of the L2 strength on a held-out part of ``(x, y)``.

    Starts at ``CLIP_START``; then, with the step (in decades) halved from 2 until it is 1/8 (8 steps per decade),
    compares the best strength with one step below and above it. Ties keep the earlier candidate (the weakest
    of the start values; the current best when refining). Returns the chosen strength and every
    ``(l2, held-out top-1)`` tried."""
    fit, val = holdout(y, fraction, seed)
    tried: dict[float, float] = {}

    def score(log_l2: float) -> float:
        key = round(log_l2, 6)
        if key not in tried:
            clf = fit_logistic(x[fit], y[fit], num_classes, 10.0 ** key, max_iter)
            with torch.no_grad():
                pred = clf(torch.as_tensor(x[val], dtype=torch.float64)).argmax(1).numpy()
            tried[key] = float((pred == y[val]).mean() * 100)
        return tried[key]

    best = max((np.log10(v) for v in CLIP_START), key=score)
    step = 2.0
    while step > 0.125:
        step /= 2
        best = max((best, best - step, best + step), key=score)
    return float(10.0 ** round(best, 6)), [{"l2": float(10.0 ** k), "top1": v} for k, v in sorted(tried.items())]


def adamw_schedule(cfg, lr: float, batch_size: int) -> dict[str, Any]:
    """The method config's AdamW settings (betas, weight decay, epochs, warm-up epochs) at learning rate ``lr``."""
    opt = dict(cfg.optim_wrapper.get("optimizer", {}))
    return {"lr": lr, "betas": tuple(opt.get("betas", (0.9, 0.999))),
            "weight_decay": float(opt.get("weight_decay", 0.01)), "epochs": int(cfg.train_cfg["max_epochs"]),
            "warmup_epochs": int(cfg.get("warmup_epochs") or 0),
            "batch_size": batch_size}


def fit_adamw(x: np.ndarray, y: np.ndarray, num_classes: int, sched: dict[str, Any], seed: int) -> torch.nn.Linear:
    """A linear layer (zero-initialised, so the fit depends on the seed only through the shuffling) trained with
    AdamW, linear warm-up then cosine decay per iteration, shuffled mini-batches (``torch.randperm`` from ``seed``)."""
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    clf = torch.nn.Linear(x.shape[1], num_classes)
    torch.nn.init.zeros_(clf.weight)
    torch.nn.init.zeros_(clf.bias)
    opt = torch.optim.AdamW(clf.parameters(), lr=sched["lr"], betas=sched["betas"],
                            weight_decay=sched["weight_decay"])
    per_epoch = max(1, -(-len(y) // sched["batch_size"]))
    total, warm = sched["epochs"] * per_epoch, sched["warmup_epochs"] * per_epoch
    step = 0
    for _ in range(sched["epochs"]):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), sched["batch_size"]):
            if step < warm:
                factor = (step + 1) / warm
            else:
                factor = 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, total - warm)))
            for group in opt.param_groups:
                group["lr"] = sched["lr"] * factor
            idx = order[start:start + sched["batch_size"]]
            loss = F.cross_entropy(clf(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    return clf.eval()


@register_protocol
class LinearProbe(Protocol):
    name = "linear_probe"
    version = "3"  # issue 18: recipes; issue 23: MMAction2's metric definitions, per-video predictions kept
    defaults = {"splits": [1, 2, 3], "init_from": None, "l2": 1e-3, "max_iter": 500, "recipe": "lbfgs",
                "val_fraction": 0.2, "lr": 4e-4, "batch_size": 256, "test_resize": None}
    # l2: recipe lbfgs; val_fraction: recipe clip; lr, batch_size: recipe alt; test_resize null: the method
    # config's test pipeline
    params = {"splits": Param("list", item="int", min=1, max=3, nonempty=True), "init_from": INIT_FROM,
              "l2": Param("float", min=0), "max_iter": Param("int", min=1),
              "recipe": Param("str", choices=tuple(RECIPES)), "val_fraction": Param("float", min=0, max=1),
              "lr": Param("float", min=0), "batch_size": Param("int", min=1),
              "test_resize": Param("int", min=1, nullable=True)}

    def validate_args(self) -> None:
        splits = self.args["splits"]
        if not isinstance(splits, list) or not splits or any(s not in (1, 2, 3) for s in splits):
            raise ConfigError(f"linear_probe.splits={splits!r}: expected a non-empty list drawn from [1, 2, 3]")
        if not float(self.args["l2"]) >= 0:
            raise ConfigError(f"linear_probe.l2={self.args['l2']!r}: expected a number >= 0")
        if self.args["recipe"] not in RECIPES:
            raise ConfigError(f"linear_probe.recipe={self.args['recipe']!r}; accepted: {', '.join(RECIPES)}")
        if not 0 < float(self.args["val_fraction"]) < 1:
            raise ConfigError(f"linear_probe.val_fraction={self.args['val_fraction']!r}: expected a number in (0, 1)")
        if not float(self.args["lr"]) > 0:
            raise ConfigError(f"linear_probe.lr={self.args['lr']!r}: expected a number > 0")
        engine.check_positive_int(self.name, "batch_size", self.args["batch_size"])
        engine.check_positive_int(self.name, "test_resize", self.args["test_resize"], none_ok=True)

    def plan(self, spec, method, dataset) -> list[Episode]:
        if self.args["init_from"] is not None:
            weights.resolve_init(self.args["init_from"], where="linear_probe.init_from")
        episodes = []
        for i in self.args["splits"]:
            episodes.append(Episode(
                name=f"split{i}", classes=list(dataset.classes),
                train=lists.dataset_list(spec, dataset, f"train_split{i}"),
                test=lists.dataset_list(spec, dataset, f"val_split{i}"),
                params={"split": i, "recipe": self.args["recipe"], "l2": self.args["l2"],
                        "init_from": self.args["init_from"]},
            ))
        return episodes

    def run_episode(self, ctx: engine.RunContext, episode: Episode) -> dict[str, Any]:
        init = None
        if self.args["init_from"] is not None:
            init = weights.resolve_init(self.args["init_from"], where="linear_probe.init_from")
        cfg = engine.episode_config(ctx, episode, test_resize=self.args["test_resize"])
        model = engine.build_model(cfg, init=init)
        if not hasattr(model, "video_features"):
            raise ConfigError(f"method {ctx.spec.method!r}: its model has no video_features(inputs) hook")
        model.requires_grad_(False)
        out_dir = ctx.work_dir / episode.name
        x_tr, y_tr = extract_features(cfg, model, episode.train, out_dir / "features_train.npz")
        x_te, y_te = extract_features(cfg, model, episode.test, out_dir / "features_test.npz")
        n, recipe, extra = len(episode.classes), self.args["recipe"], {}
        if recipe == "alt":
            clf = fit_adamw(x_tr, y_tr, n, adamw_schedule(cfg, float(self.args["lr"]), int(self.args["batch_size"])),
                            seed=int(ctx.spec.seed))
            with torch.no_grad():
                scores = clf(torch.as_tensor(x_te, dtype=torch.float32))
        else:
            mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
            xs_tr, xs_te = (x_tr - mean) / std, (x_te - mean) / std
            l2 = float(self.args["l2"])
            if recipe == "clip":
                l2, sweep = clip_sweep(xs_tr, y_tr, n, float(self.args["val_fraction"]),
                                       (int(ctx.spec.seed), int(episode.params["split"])), int(self.args["max_iter"]))
                extra = {"sweep": sweep}
            clf = fit_logistic(xs_tr, y_tr, n, l2, int(self.args["max_iter"]))
            extra["l2"] = l2
            with torch.no_grad():
                scores = clf(torch.as_tensor(xs_te, dtype=torch.float64))
        dump_predictions(out_dir, scores, y_te)
        return {**accuracy(scores, y_te, n), "split": episode.params["split"], "recipe": recipe, **extra,
                "num_train_videos": len(y_tr), "num_test_videos": len(y_te), "feature_dim": int(x_tr.shape[1]),
                "init": model.init_info}

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("top1", "top5", "mean_class_acc"):
            out[key] = float(np.mean([r[key] for r in results]))
            for r in results:
                out[f"{key}_split{r['split']}"] = r[key]
        out["num_splits"] = len(results)
        out["recipe"] = self.args["recipe"]
        return out
