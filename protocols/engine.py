"""MMEngine glue shared by the protocols: episode configs, training, testing with views.

Everything here configures MMAction2/MMEngine and lets them do the work: datasets and
pipelines are MMAction2's, training is ``Runner.train``, testing is ``Runner.test`` with
MMAction2's view averaging (``average_clips``) and ``AccMetric`` (through ``BenchAccMetric``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import bench.data.mm  # noqa: F401  (registers CheckedVideoDataset)
import bench.metrics  # noqa: F401  (registers BenchAccMetric)
import protocols.sampling  # noqa: F401  (registers ViewSample)
from bench.errors import ConfigError
from bench.views import CROPS, SAMPLERS, parse_views, pipeline_steps, set_classes  # noqa: F401 - their home
from protocols.base import Episode, Split

log = logging.getLogger(__name__)
REPORTS = ("last", "best")
SAMPLINGS = ("centre", "start", "random")


def check_positive_int(protocol: str, key: str, value, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{protocol}.{key}={value!r}: expected a positive integer{' or null' if none_ok else ''}")


def report_every(protocol: str, spec, value) -> tuple[int, str]:
    """How often ``report: best`` tests (epochs): the protocol's, else the method config's
    ``protocol_defaults[protocol].report_every``, else every epoch (X-CLIP)."""
    if value is not None:
        check_positive_int(protocol, "report_every", value)
        return int(value), "protocol"
    every, source = method_default(resolved_config(spec), protocol, "report_every", 1)
    check_positive_int(f"{spec.method} config protocol_defaults.{protocol}", "report_every", every)
    return int(every), source


def check_report(protocol: str, value) -> None:
    if value not in REPORTS:
        raise ConfigError(f"{protocol}.report={value!r}; accepted: {', '.join(REPORTS)} (last: the final epoch's "
                          f"model; best: test every epoch and report the maximum, as X-CLIP/ViFi-CLIP/BIKE do)")


def check_sampling(protocol: str, value) -> None:
    if value is not None and value not in SAMPLINGS:
        raise ConfigError(f"{protocol}.sampling={value!r}; accepted: {', '.join(SAMPLINGS)} or null "
                          f"(the method config's protocol_defaults.views.sampling, else centre)")


def resolved_config(spec):
    """The method's MMEngine config for ``spec`` with its overrides applied (what the job runs).

    Parsed once per file (``bench.method.method_config``); messages name the spec's origin, never
    ``spec.run_id``: the run id resolves the spec's identity, whose plan calls this again (a recursion
    that ended only in a caught RecursionError, after about 120 config loads per spec).
    """
    from bench.method import apply_overrides, method_config
    from bench.validation import spec_origin

    cfg = method_config(spec.method, spec.size)
    apply_overrides(cfg, spec.overrides, where=f"overrides of {spec_origin(spec)}")
    sync_frames(cfg)
    return cfg


def view_sampling(spec, value: str | None) -> str:
    """The test views' frame sampling in effect: the protocol's, else the method config's, else ``centre``."""
    if value is not None:
        return value
    sampling, _ = method_default(resolved_config(spec), "views", "sampling", "centre")
    check_sampling(f"{spec.method} config protocol_defaults.views", sampling)
    return sampling


def method_default(cfg, section: str, key: str, fallback: Any) -> tuple[Any, str]:
    """``cfg.protocol_defaults[section][key]`` and where it came from, else ``fallback``."""
    value = ((cfg.get("protocol_defaults") or {}).get(section) or {}).get(key)
    return (fallback, "harness default") if value is None else (value, "method config protocol_defaults")


@dataclasses.dataclass
class RunContext:
    """What an episode needs: the spec, the method, its resolved config and the run directory."""

    spec: Any
    method: Any
    cfg: Any
    work_dir: Path
    resume: bool = True
    configs: dict[str, Any] = dataclasses.field(default_factory=dict)  # episode -> the config that trained it

    @property
    def failure_log(self) -> Path:
        return self.work_dir / "decode_failures.jsonl"


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def sync_frames(cfg: Any) -> None:
    """Make every frame sampler of the pipelines take ``cfg.num_frames`` frames (after overrides)."""
    frames = cfg.get("num_frames")
    if frames is None:
        return
    for key in ("train_dataloader", "test_dataloader"):
        loader = cfg.get(key)
        if not loader:
            continue
        for _, _, step in pipeline_steps(loader["dataset"]["pipeline"]):
            if step["type"] in SAMPLERS:
                step["clip_len"] = frames


def _set_views(pipeline: list[dict], clips: int, crops: int, test_resize: int | None = None,
               sampling: str | None = None, seed: int = 0, three_crop_resize: int | None = None) -> list[dict]:
    """The test pipeline with ``clips`` x ``crops`` views, the short side resized to ``test_resize`` (when
    given) and the clips' frames sampled by ``sampling`` (``centre``: the method's MMAction2 sampler in
    test mode; ``start``/``random``: ``ViewSample``, see ``protocols/sampling.py``).
    ``three_crop_resize``: the short side of 3-crop views when the public code resizes differently for
    them (X-CLIP: 224 crops of a 224 short side); ``test_resize`` wins over it."""
    pipeline = copy.deepcopy(pipeline)
    if test_resize is None and crops == 3 and three_crop_resize is not None:
        test_resize = three_crop_resize
    size, resized = None, False
    for container, i, step in list(pipeline_steps(pipeline)):
        if step["type"] in SAMPLERS:
            if sampling in ("start", "random") and step["type"] != "ViewSample":
                container[i] = step = dict(type="ViewSample", clip_len=step["clip_len"], source=step["type"],
                                           frame_interval=step.get("frame_interval", 1))
            if step["type"] == "ViewSample":
                step.update(mode=sampling or step.get("mode", "centre"), seed=int(seed))
            step["num_clips"] = clips
            step["test_mode"] = True
        if step["type"] == "Resize" and size is None and test_resize is not None:
            container[i] = dict(type="Resize", scale=(-1, int(test_resize)))
            resized = True
        if step["type"] in CROPS.values():
            size = step.get("crop_size", size)
            container[i] = dict(type=CROPS[crops], crop_size=size)
    if size is None:
        raise ConfigError("test_pipeline has no CenterCrop/ThreeCrop/TenCrop step; cannot set spatial views")
    if test_resize is not None and not resized:
        raise ConfigError(f"test_resize={test_resize!r}: the test pipeline has no Resize step before its crop")
    return pipeline


def test_transform(pipeline: list[dict]) -> dict[str, Any]:
    """The resize (short side) and crop of a test pipeline, as its README names them."""
    resize = crop = None
    for _, _, step in pipeline_steps(pipeline):
        if step["type"] == "Resize" and crop is None:
            resize = tuple(step["scale"])
        if step["type"] in CROPS.values():
            crop = (step["type"], step.get("crop_size"))
    return {"resize": resize, "crop": crop}


def episode_config(ctx: RunContext, episode: Episode, views: tuple[int, int] = (1, 1), name: str = "test",
                   repeat: int = 1, epochs: int | None = None, test_resize: int | None = None,
                   sampling: str | None = None):
    """The MMEngine config of one episode: classes, annotation lists, views and work dir set."""
    cfg = copy.deepcopy(ctx.cfg)
    cfg.work_dir = str(ctx.work_dir / episode.name)
    cfg.randomness = dict(seed=int(ctx.spec.seed), deterministic=False)
    cfg.resume = False
    cfg.load_from = None
    cfg.launcher = "pytorch" if _distributed() else "none"  # the group of a multi-task job exists already
    if set_classes(cfg.model, episode.train_classes or episode.classes) == 0:
        raise ConfigError(f"method {ctx.spec.method!r}: its model config has no class_names/num_classes field")
    sync_frames(cfg)
    if episode.train is not None:
        ds = cfg.train_dataloader["dataset"]
        ds.update(ann_file=str(episode.train.ann_file), data_prefix=dict(video=str(episode.train.video_root)),
                  failure_log=str(ctx.failure_log))
        if repeat > 1:
            cfg.train_dataloader["dataset"] = dict(type="RepeatDataset", times=repeat, dataset=ds)
    if epochs is not None:
        cfg.train_cfg["max_epochs"] = epochs
    tds = cfg.test_dataloader["dataset"]
    tds.update(ann_file=str(episode.test.ann_file), data_prefix=dict(video=str(episode.test.video_root)),
               pipeline=_set_views(tds["pipeline"], *views, test_resize=test_resize, sampling=sampling,
                                   seed=int(ctx.spec.seed),
                                   three_crop_resize=method_default(cfg, "views", "three_crop_resize", None)[0]))
    dump = ctx.work_dir / episode.name / f"predictions_{name}"
    cfg.test_evaluator = dict(type="BenchAccMetric", metric_list=("top_k_accuracy", "mean_class_accuracy"),
                              dump_path=str(dump), class_names=list(episode.classes))
    # the dumped config names BenchAccMetric: importing it lets MMAction2's tools/test.py rerun the config
    imports = dict(cfg.get("custom_imports") or {"imports": [], "allow_failed_imports": False})
    imports["imports"] = [*imports.get("imports", []), *([] if "bench.metrics" in imports.get("imports", [])
                                                          else ["bench.metrics"])]
    cfg.custom_imports = imports
    if episode.name not in ctx.configs or (episode.train is not None and name == "test"):
        ctx.configs[episode.name] = cfg.to_dict()  # the record stores the config that trained, as trained
    return cfg


def _memo_config_class():
    from mmengine.config import Config

    class MemoTextConfig(Config):
        """An MMEngine ``Config`` whose ``pretty_text`` is computed once per content.

        A Runner reads ``cfg.pretty_text`` 7-9 times (the config dump, the environment log, the runtime-info
        hook, every checkpoint's meta), and each is a yapf pass over the whole config: about 0.4 s, 5-8 % of a
        tiny cell's CPU. The text is a function of the config's content, so it is kept beside a key of that
        content (``repr`` of the plain dict and the formatting flag) and recomputed when the content changes.
        """

        @property
        def pretty_text(self) -> str:
            key = (repr(self.to_dict()), self.__dict__.get("_format_python_code"))
            memo = self.__dict__.get("_vlbench_pretty_text")
            if memo is not None and memo[0] == key:
                return memo[1]
            text = Config.pretty_text.fget(self)
            object.__setattr__(self, "_vlbench_pretty_text", (key, text))
            return text

    return MemoTextConfig


_MEMO_CONFIG = None


def memo_text_config(cfg):
    """A copy of ``cfg`` (an MMEngine Config) that computes its ``pretty_text`` once per content."""
    global _MEMO_CONFIG
    from mmengine.config import Config

    if not isinstance(cfg, Config):
        return cfg
    if _MEMO_CONFIG is None:
        _MEMO_CONFIG = _memo_config_class()
    out = copy.copy(cfg)
    object.__setattr__(out, "__class__", _MEMO_CONFIG)  # Config.__setattr__ would set a config key
    return out


def build_runner(cfg, model=None):
    """An MMEngine Runner for ``cfg`` (optionally around an already-built model)."""
    from mmengine.runner import Runner

    cfg = memo_text_config(cfg)
    if model is None:
        return Runner.from_cfg(cfg)
    keys = ("work_dir", "test_dataloader", "test_cfg", "test_evaluator", "default_scope", "env_cfg",
            "log_processor", "randomness", "default_hooks", "log_level")
    kwargs = {k: cfg.get(k) for k in keys if cfg.get(k) is not None}
    return Runner(model=model, experiment_name=f"test_{Path(cfg.work_dir).name}", cfg=cfg, **kwargs)


BEST_STATE = "best_state.pth"
VAL_HISTORY = "val_history.json"


def _hook_registry():
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    if "BestEpochHook" in HOOKS.module_dict:
        return HOOKS.module_dict["BestEpochHook"]

    @HOOKS.register_module()
    class BestEpochHook(Hook):
        """After every epoch's test pass: append top-1 to ``val_history.json``; keep the weights of the first
        epoch with the highest top-1 (strictly greater, as X-CLIP's ``main.py`` and BIKE's ``train.py`` do)."""

        priority = "LOW"

        def __init__(self, work_dir: str, key: str = "acc/top1") -> None:
            self.work_dir, self.key = Path(work_dir), key

        def after_val_epoch(self, runner, metrics=None) -> None:
            from mmengine.dist import is_main_process

            from protocols import weights

            if not metrics or self.key not in metrics or not is_main_process():
                return
            path = self.work_dir / VAL_HISTORY
            history = json.loads(path.read_text()) if path.exists() else []
            history = [h for h in history if h["epoch"] < runner.epoch]  # a resumed run re-tests its epochs
            value = 100 * float(metrics[self.key])
            if not history or value > max(h["top1"] for h in history):
                weights.save_state(runner.model, self.work_dir / BEST_STATE)
            history.append({"epoch": int(runner.epoch), "top1": value})
            path.write_text(json.dumps(history, indent=1))

    return BestEpochHook


def _test_every_epoch(cfg, every: int = 1) -> None:
    """Add a test pass after every ``every``-th training epoch and the last (single view, the episode's test list)
    and the best-epoch hook (MMEngine's ``EpochBasedTrainLoop`` with ``val_interval=every``)."""
    _hook_registry()
    cfg.val_dataloader = copy.deepcopy(cfg.test_dataloader)
    cfg.val_evaluator = dict(type="BenchAccMetric", metric_list=("top_k_accuracy", "mean_class_accuracy"))
    cfg.val_cfg = dict(type="ValLoop")
    cfg.train_cfg["val_interval"] = int(every)
    cfg.train_cfg["val_begin"] = 1
    hooks = list(cfg.get("custom_hooks") or [])
    cfg.custom_hooks = [*hooks, dict(type="BestEpochHook", work_dir=str(cfg.work_dir))]


def train(ctx: RunContext, cfg, init: Path | None = None, report: str = "last", report_every: int = 1):
    """Train with MMEngine, resuming from the run's own last checkpoint when there is one.

    ``init``: a checkpoint of tensors to start from (``protocols.weights``); loaded into the
    built model before training (a resumed run then overwrites it with its own checkpoint).
    ``report="best"`` tests after every ``report_every``-th epoch (and the last) and returns the model of
    the tested epoch with the highest single-view top-1 (``runner.report`` says which and lists each
    tested epoch's top-1).
    The returned model's weights are saved as ``model_state.pth`` in the episode directory.
    """
    from bench.checkpoint import trusted_resume, weights_only_hook
    from protocols import weights

    check_report("train", report)
    if report == "best":
        _test_every_epoch(cfg, report_every)
    cfg.resume = ctx.resume and (Path(cfg.work_dir) / "last_checkpoint").exists()
    runner = build_runner(cfg)
    runner.register_hook(weights_only_hook())  # epoch_N.pth readable with weights_only=True (init_recognizer)
    runner.init_info = None
    if init is not None:
        state = weights.load_state(init)
        init_weights = runner._init_model_weights

        def init_then_load() -> None:  # Runner.train initialises weights, then resumes: load in between
            init_weights()
            runner.init_info = weights.apply_state(runner.model, state, init)

        runner._init_model_weights = init_then_load
    with trusted_resume(Path(cfg.work_dir)):
        runner.train()
    runner.report = {"report": report, "epochs_trained": int(runner.epoch)}
    if report == "best":
        if _distributed():
            import torch.distributed as dist

            dist.barrier()  # rank 0 wrote the history and the best weights
        history = json.loads((Path(cfg.work_dir) / VAL_HISTORY).read_text())
        best = max(history, key=lambda h: h["top1"])  # the first epoch with the maximum
        weights.apply_state(runner.model, weights.load_state(Path(cfg.work_dir) / BEST_STATE),
                            Path(cfg.work_dir) / BEST_STATE)
        runner.report.update(best_epoch=best["epoch"], per_epoch_top1=[h["top1"] for h in history],
                             tested_epochs=[h["epoch"] for h in history])
    weights.save_state(runner.model, Path(cfg.work_dir) / weights.STATE_FILE)
    return runner


def report_info(runner) -> dict[str, Any]:
    """What a record says about the reported epoch (``report``, and for ``best`` which epoch it was)."""
    return dict(getattr(runner, "report", None) or {"report": "last"})


def build_model(cfg, init: Path | None = None):
    """The method's model built from ``cfg.model`` in eval mode (optionally with weights from ``init``)."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from protocols import weights

    init_default_scope(cfg.get("default_scope", "mmaction"))
    model = MODELS.build(copy.deepcopy(cfg.model))
    info = None
    if init is not None:
        info = weights.apply_state(model, weights.load_state(init), init)
    model.init_info = info
    return model.eval()


def build_loader(loader_cfg: dict):
    """A PyTorch DataLoader from an MMEngine dataloader config (MMAction2 dataset + pipeline)."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    init_default_scope("mmaction")
    return Runner.build_dataloader(copy.deepcopy(loader_cfg))


def test(cfg, model) -> dict[str, Any]:
    """Test ``model`` on ``cfg``'s test list; metrics in percent, plus per-class accuracy."""
    from bench.view_agreement import per_view_top1

    runner = build_runner(cfg, model=model)
    with per_view_top1(runner.model):  # multi-view: each view's top-1 reaches the dump (per-view agreement)
        raw = runner.test()
    dump = Path(cfg.test_evaluator["dump_path"]).with_suffix(".json")
    extra = json.loads(dump.read_text()) if dump.exists() else {}
    return {
        "top1": 100 * float(raw["acc/top1"]),
        "top5": 100 * float(raw["acc/top5"]),
        "mean_class_acc": 100 * float(raw["acc/mean1"]),
        "num_test_videos": extra.get("n"),
        "per_class": extra.get("per_class", {}),
    }


def split_of(dataset, split: str) -> Split:
    return Split(dataset.split_file(split), dataset.video_root, dataset.name)
