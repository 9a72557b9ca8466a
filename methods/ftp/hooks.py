"""Training-time glue for FTP's two stages.

``FTPStageHook`` (a ``custom_hooks`` entry of every FTP config), by ``model.stage1.mode``:

- ``shared`` (default; ``methods/ftp/stage1.py``): before training, loads each letter's processor
  from the stage-1 artefacts the run consumes (listed by ``bench.job`` in ``artefacts.json``) and
  shortens the run to its ``max_epochs - stage1_epochs`` stage-2 epochs; no VLM, no text encoder.
- ``produce`` (a stage-1 producer run, one letter, ``max_epochs == stage1_epochs``) and
  ``per_cell`` (both stages in one run): before training, reads the training list, asks the VLM
  the prompts for every training video (through the text answer cache), embeds the answers
  (through the text-embedding cache), reports how many videos lack an answer, and hands the
  targets to the model. A missing answer is an error (``text.missing='error'``) or is left out
  of stage 1 with its count logged (``'skip'``).
- per epoch: sets ``model.stage`` (1 for the stage-1 epochs of this run, then 2).
- per iteration: each stage has its own warmup + cosine learning-rate schedule (Tables A2 and
  A3: "cosine decay", warmup epochs), applied to its own parameter group; the other group's
  learning rate is 0 (its parameters get no gradient in that stage anyway).

``FTPOptimWrapperConstructor`` builds one optimizer with two parameter groups, stage 1
(processors + alignment layers, Table A2: lr, betas 0.9/0.95) and stage 2 (integration + head,
Table A3: lr, betas 0.9/0.999). The frozen encoder is in neither.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import HOOKS, OPTIM_WRAPPER_CONSTRUCTORS

from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _model(runner):
    model = runner.model
    return model.module if is_model_wrapper(model) else model


def _base_dataset(ds):
    while hasattr(ds, "dataset"):  # RepeatDataset and other wrappers
        ds = ds.dataset
    return ds


def dataset_name(model, runner, video_root: Path) -> str:
    """The dataset the training videos come from (it keys the answers and picks the offline oracle).

    Tried in order: ``model.text.dataset``; the run's ``spec.json`` (written by ``bench.job``
    next to the episode's work dir); ``info.json`` at the video root (synthetic datasets).
    """
    if model.text_cfg.get("dataset"):
        return str(model.text_cfg["dataset"])
    tried = []
    for spec in (Path(runner.work_dir).parent / "spec.json", Path(runner.work_dir) / "spec.json"):
        tried.append(str(spec))
        if spec.exists():
            return json.loads(spec.read_text())["dataset"]
    info = video_root / "info.json"
    tried.append(str(info))
    if info.exists():
        return json.loads(info.read_text())["name"]
    raise ConfigError(f"FTP cannot tell which dataset the training videos belong to (tried {tried}); "
                      "set model.text.dataset to the dataset's registry name")


@HOOKS.register_module()
class FTPStageHook(Hook):
    """Prepares stage-1 text targets, switches stages, and schedules each stage's learning rate.

    Args:
        warmup_epochs: warmup epochs of (stage 1, stage 2); Tables A2/A3 use 5 and 5.
        min_lr_ratio: the cosine's final learning rate as a fraction of the base.
        cpu_threads: torch threads on a CPU-only machine (tiny configs: 1), None leaves torch's default.
    """

    priority = "NORMAL"

    def __init__(self, warmup_epochs: tuple[float, float] = (5, 5), min_lr_ratio: float = 0.0,
                 cpu_threads: int | None = None) -> None:
        self.warmup = tuple(float(w) for w in warmup_epochs)
        self.min_lr_ratio = float(min_lr_ratio)
        self.cpu_threads = cpu_threads
        self.stage1_epochs = 0  # set in before_train: the model's stage1_epochs, 0 when stage 1 is shared

    def before_train(self, runner) -> None:
        model = _model(runner)
        if self.cpu_threads and not torch.cuda.is_available():
            # tiny CPU runs: the ops are small, and several cells share few cores; extra threads only contend
            torch.set_num_threads(int(self.cpu_threads))
        mode = model.stage1_cfg["mode"]
        self.stage1_epochs = model.stage1_epochs
        if mode == "produce":  # a stage-1 producer (methods.ftp.stage1): stage 1 only, one letter
            if model.stage1_epochs != runner.max_epochs:
                raise ConfigError(f"FTP stage-1 producer: train_cfg.max_epochs={runner.max_epochs} must equal "
                                  f"model.stage1_epochs={model.stage1_epochs}")
            from methods.ftp.stage1 import reseed_letter_modules

            reseed_letter_modules(model, runner.seed)
        elif model.stage1_epochs >= runner.max_epochs:
            raise ConfigError(f"model.stage1_epochs={model.stage1_epochs} leaves no epoch for stage 2 "
                              f"(train_cfg.max_epochs={runner.max_epochs})")
        if mode == "shared":
            self._load_shared(runner, model)
        elif not model.prompts:
            log.info("FTP: no prompts (Table 7 group 1); stage 1 has nothing to train")
        else:
            self._prepare_targets(runner, model)

    def _load_shared(self, runner, model) -> None:
        """Stage 2 only: the processors come from stage-1 artefacts; no VLM, no text encoder is touched."""
        from methods.ftp.stage1 import load_into

        keys: list[str] = []
        if model.prompts:
            listing = Path(runner.work_dir).parent / "artefacts.json"
            if not listing.exists():
                raise ConfigError(f"FTP model.stage1.mode='shared' needs the run's stage-1 artefacts, listed in "
                                  f"{listing} by bench.job; run the cell through bench (which produces them), or "
                                  "set model.stage1.mode='per_cell'")
            keys = load_into(model, json.loads(listing.read_text()), str(listing))
        loop = runner.train_loop
        stage2 = runner.max_epochs - model.stage1_epochs
        # the run is stage 2 only: train_cfg.max_epochs counts both stages (as in per_cell mode)
        loop._max_epochs = stage2
        loop._max_iters = stage2 * len(loop.dataloader)
        # MMEngine sized gradient accumulation's last window by the longer loop: size it again
        runner.optim_wrapper.initialize_count_status(runner.model, loop.iter, loop.max_iters)
        self.stage1_epochs = 0
        runner.logger.info(f"FTP shared stage 1: processors {model.prompts} loaded from {keys}; "
                           f"{stage2} stage-2 epochs")

    def _prepare_targets(self, runner, model) -> None:
        ds = _base_dataset(runner.train_dataloader.dataset)
        ds.full_init()  # MMEngine datasets may load their annotation list lazily
        root = Path(ds.data_prefix.get("video") or "")
        videos = []
        for i in range(len(ds)):  # get_data_info: MMEngine serialises data_list after loading it
            item = ds.get_data_info(i)
            path = Path(item["filename"])
            vid = str(path.relative_to(root)) if root and path.is_relative_to(root) else path.name
            videos.append((str(path), vid))
        name = dataset_name(model, runner, root)
        from methods.ftp.text_targets import prepare_targets

        targets, missing = prepare_targets(videos, name, model.prompts, model.text_cfg, model.keyframes)
        n_missing = sum(missing.values())
        summary = ", ".join(f"{p}: {n}" for p, n in missing.items())
        if n_missing:
            msg = (f"FTP stage 1: {n_missing} VLM answers missing over {len(videos)} training videos of {name} "
                   f"(per prompt: {summary})")
            if model.text_cfg.get("missing", "error") == "error":
                raise DataError(msg + "; rerun to resume the answer cache, or set model.text.missing='skip'")
            runner.logger.warning(msg + "; those videos are left out of stage 1")
        runner.logger.info(f"FTP stage 1: answers for {len(videos)} videos x prompts {model.prompts} from "
                           f"{name} ({summary or 'none'} missing)")
        model.targets = targets
        out = Path(runner.work_dir) / "ftp_text.json"
        out.write_text(json.dumps({"dataset": name, "videos": len(videos), "missing": missing,
                                   "provenance": targets.provenance, "text": model.text_cfg}, indent=1,
                                  default=str))

    def before_train_epoch(self, runner) -> None:
        model = _model(runner)
        model.stage = 1 if runner.epoch < self.stage1_epochs else 2

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        per_epoch = len(runner.train_dataloader)
        s1 = self.stage1_epochs * per_epoch
        total = runner.max_epochs * per_epoch
        it = runner.iter
        stage = 1 if it < s1 else 2
        start, end = (0, s1) if stage == 1 else (s1, total)
        warm = self.warmup[stage - 1] * per_epoch
        pos = it - start
        if pos < warm:
            factor = (pos + 1) / warm
        else:
            frac = (pos - warm) / max(1.0, end - start - warm)
            factor = self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        for group in runner.optim_wrapper.optimizer.param_groups:
            group["lr"] = group["ftp_base_lr"] * factor if group.get("ftp_stage") == stage else 0.0


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FTPOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Two AdamW parameter groups, one per stage, with each stage's lr and betas (Tables A2, A3).

    ``paramwise_cfg = dict(stage1=dict(lr=..., betas=...), stage2=dict(lr=..., betas=...))``;
    the optimizer's own ``lr``/``betas`` are the defaults for a stage that does not set them.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        self.stages = dict(paramwise_cfg or {})
        unknown = set(self.stages) - {"stage1", "stage2"}
        if unknown:
            raise ConfigError(f"FTPOptimWrapperConstructor paramwise_cfg keys {sorted(unknown)}; accepted: "
                              "stage1, stage2")
        super().__init__(optim_wrapper_cfg, None)
        self.paramwise_cfg = {"ftp_stages": self.stages}  # truthy: the base class then calls add_params

    def add_params(self, params: list, module, prefix: str = "", is_dcn_module=None) -> None:
        model = module.module if is_model_wrapper(module) else module
        opt = self.optimizer_cfg
        for stage in (1, 2):
            cfg = self.stages.get(f"stage{stage}", {})
            group = [p for name in model.trainable_parts(stage) for p in getattr(model, name).parameters()
                     if p.requires_grad]
            if not group:
                continue
            lr = float(cfg.get("lr", opt.get("lr")))
            entry = {"params": group, "lr": lr, "ftp_base_lr": lr, "ftp_stage": stage}
            for key in ("betas", "weight_decay", "eps"):
                if key in cfg:
                    entry[key] = tuple(cfg[key]) if key == "betas" else cfg[key]
            params.append(entry)
