"""FTP's stage 1 as shared producer artefacts (``bench.artefacts``): one set of processors per prompt letter.

ftp paper, Sec. 3.2: stage 1 "only needs to be performed once, to serve model development for a
range of target domains"; appendix A.2 runs it once on Kinetics-710, and stage 2 "does not require
VLM and text encoder". With ``model.stage1.mode='shared'`` (the default) a cell consumes, per
prompt letter of ``model.prompts``, the artefact ``ftp.stage1`` made by one stage-1 run of that
letter alone on ``model.stage1.dataset`` (default profile: the world's ``syn_k400``; paper
configs: ``k710``), and its own training run is stage 2 only (``train_cfg.max_epochs -
model.stage1_epochs`` epochs) on the cell's dataset, without any VLM or text encoder.
``mode='per_cell'`` keeps the older behaviour: each cell trains its processors itself, on its
own dataset, before stage 2 (for comparison).

The artefact's key hashes everything that determines the processors: the letter, the seed, the
stage-1 dataset (name, training list sha256, synthetic world), the model config minus the
stage-2-only parts (head, integration weight, mixup, the prompt subset), with the encoder actually
selected and every weights file's sha256, the text settings with the letter's VLM resolved, the
training loader and pipeline, the stage-1 optimiser and learning-rate schedule.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import torch

from bench import artefacts
from bench.errors import ConfigError
from methods.ftp.recognizer import MODES, settings_of  # noqa: F401 - model.stage1's settings live with the model

log = logging.getLogger(__name__)
KIND = "ftp.stage1"
STATE_FILE = "processors.pth"
TRAINING_PROTOCOLS = ("supervised", "fewshot")  # protocols whose runs train through FTPStageHook
# model fields that only stage 2 (or the cell's choice of letters) reads: not part of the key
STAGE2_ONLY = ("cls_head", "alpha", "head_type", "blending", "prompts", "stage1", "feature_cache", "encoders",
               "encoder", "type")


@functools.lru_cache(maxsize=64)
def _list_sha256(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dataset_identity(name: str, split: str) -> dict[str, Any]:
    """The stage-1 training set: its name, its training list's sha256 and (synthetic) the world."""
    from bench.data.catalog import get_dataset
    from bench.data.synthetic.storage import synthetic_world

    ds = get_dataset(name, where="model.stage1.dataset")
    path = Path(ds.split_file(split))
    out = {"name": name, "split": split, "list_sha256": _list_sha256(str(path), path.stat().st_mtime)}
    if name.startswith("syn_"):
        out["world"] = synthetic_world()
    return out


def producer_spec(spec: Any, letter: str, stage1: dict[str, Any]):
    """The RunSpec of the stage-1 run of ``letter``: the cell's size, seed and overrides, one letter, stage 1 only."""
    from bench.spec import RunSpec

    overrides = {**spec.overrides, "model.prompts": [letter], "model.stage1.mode": "produce"}
    return RunSpec(method=spec.method, protocol="supervised", dataset=stage1["dataset"], size=spec.size,
                   seed=spec.seed, protocol_args={"train_split": stage1["split"], "views": "1x1"},
                   overrides=overrides, grid=spec.grid, case=f"stage1:{letter}")


def identity(cfg: Any, letter: str, seed: int, stage1: dict[str, Any]) -> dict[str, Any]:
    """What determines the stage-1 processors of ``letter`` (see the module docstring)."""
    from methods.ftp.recognizer import plain, resolve_vlm, select_encoder

    weight_sources = artefacts.job_service("weight_sources")

    model = plain(cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else cfg.model)
    if model.get("encoder"):
        backbone, _, grid, kw = select_encoder(model["encoder"], model.get("encoders") or {}, model["cls_head"],
                                               {"data_preprocessor": model.get("data_preprocessor")})
        model.update(backbone=backbone, feature_grid=grid, data_preprocessor=kw.get("data_preprocessor"))
    text = resolve_vlm(model.get("text") or {})
    text = {k: v for k, v in text.items() if k not in ("vlms", "vlm")}
    model = {k: v for k, v in model.items() if k not in STAGE2_ONLY}
    model["text"] = text
    loader = plain(cfg.train_dataloader.to_dict() if hasattr(cfg.train_dataloader, "to_dict")
                   else cfg.train_dataloader)
    loader.get("dataset", {}).pop("ann_file", None)
    loader.get("dataset", {}).pop("data_prefix", None)
    optim = plain(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper, "to_dict") else cfg.optim_wrapper)
    (optim.get("paramwise_cfg") or {}).pop("stage2", None)
    optim.pop("accumulative_counts", None)  # depends on the ranks; the global batch (below) is what counts
    hooks = [plain(h) for h in cfg.get("custom_hooks", []) if h.get("type") == "FTPStageHook"]
    for h in hooks:
        if "warmup_epochs" in h:
            h["warmup_epochs"] = list(h["warmup_epochs"])[:1]
    weights = {k: v.get("sha256") for k, v in weight_sources(cfg).items()}
    train_cfg = {k: v for k, v in plain(dict(cfg.get("train_cfg") or {})).items()
                 if k not in ("max_epochs", "val_interval")}  # the epochs are model.stage1_epochs
    return {
        "letter": letter, "seed": int(seed), "dataset": dataset_identity(stage1["dataset"], stage1["split"]),
        "model": model, "weights": weights, "train_dataloader": loader, "optim_wrapper": optim,
        "hooks": hooks, "batch": (plain(cfg.get("batch") or {}) or {}).get("stage1"),  # the global batch
        "train_cfg": train_cfg, "param_scheduler": plain(cfg.get("param_scheduler") or []),
    }


def consumes(spec: Any) -> list[artefacts.Artefact]:
    """The stage-1 artefacts of a cell: one per prompt letter in shared mode, none in per_cell mode."""
    _resolve_cfg = artefacts.job_service("resolve_cfg")
    cfg = _resolve_cfg(spec)
    stage1 = settings_of(cfg.model)
    prompts = list(cfg.model.get("prompts") or [])
    if stage1["mode"] != "shared" or not prompts or cfg.model.get("head_type") == "linear":
        return []
    if spec.protocol not in TRAINING_PROTOCOLS:
        # linear_probe and ava build the model without FTP's training hook: its processors are those of the
        # checkpoint given as init_from (a trained ftp run), never loaded from a stage-1 artefact
        return []
    if not stage1["dataset"]:
        raise ConfigError(f"run {spec.run_id}: model.stage1.dataset is not set; name the stage-1 pre-training "
                          "dataset (paper: k710; synthetic world: syn_k400), or set model.stage1.mode=per_cell")
    out = []
    for letter in prompts:
        pspec = producer_spec(spec, letter, stage1)
        pcfg = _resolve_cfg(pspec)
        out.append(artefacts.Artefact(KIND, letter, identity(pcfg, letter, spec.seed, stage1),
                                      job={"spec": pspec.to_dict()}, module=__name__))
    return out


def produce(art: artefacts.Artefact, out_dir: Path) -> dict[str, Any]:
    """Train the processor of ``art.label`` alone for ``stage1_epochs`` epochs; save its weights in ``out_dir``."""
    from mmengine.model import is_model_wrapper

    from bench import settings
    from bench.spec import RunSpec
    from bench.store import atomic_write_json
    from protocols import engine

    spec = RunSpec.from_dict(art.job["spec"])
    prep = artefacts.job_service("prepare")(spec)
    work_dir = settings.work_root() / "artefacts" / art.key  # MMEngine checkpoints: a requeued producer resumes
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work_dir / "spec.json", spec.to_dict())
    ctx = engine.RunContext(spec=spec, method=prep.method, cfg=prep.cfg, work_dir=work_dir)
    (episode,) = prep.episodes
    cfg = engine.episode_config(ctx, episode, epochs=int(prep.cfg.model.stage1_epochs))
    runner = engine.train(ctx, cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    letter = art.label
    state = {"processor": {k: v.detach().cpu() for k, v in model.processors[letter].state_dict().items()},
             "aligner": {k: v.detach().cpu() for k, v in model.aligners[letter].state_dict().items()}}
    torch.save(state, out_dir / STATE_FILE)
    text = work_dir / episode.name / "ftp_text.json"
    if text.exists():
        (out_dir / "ftp_text.json").write_bytes(text.read_bytes())
    return {"letter": letter, "dataset": spec.dataset, "epochs": int(prep.cfg.model.stage1_epochs),
            "train": episode.train.describe() if episode.train else None, "work_dir": str(work_dir)}


def load_into(model: Any, entries: list[dict[str, Any]], where: str) -> list[str]:
    """Load the processors (and alignment layers) of every letter of ``model.prompts`` from consumed artefacts.

    ``entries``: the run's ``artefacts.json`` (``bench.artefacts.consumed``). Returns the keys loaded.
    """
    by_letter = {e["label"]: e for e in entries if e.get("kind") == KIND}
    lacking = [p for p in model.prompts if p not in by_letter]
    if lacking:
        raise ConfigError(f"FTP shared stage 1: no stage-1 artefact for prompt(s) {lacking} in {where} "
                          f"(has: {sorted(by_letter) or 'none'}); run the cell through bench, which produces them, "
                          "or set model.stage1.mode=per_cell")
    keys = []
    for p in model.prompts:
        e = by_letter[p]
        state = torch.load(Path(e["path"]) / STATE_FILE, map_location="cpu")
        model.processors[p].load_state_dict(state["processor"], strict=True)
        model.aligners[p].load_state_dict(state["aligner"], strict=True)
        keys.append(e["key"])
    return keys


def reseed_letter_modules(model: Any, seed: int) -> None:
    """Initialise each letter's processor and aligner from its own generator (seed, letter).

    A stage-1 run's processors then do not depend on which other modules (head, other letters)
    were built before them, which draws from the global RNG.
    """
    from methods.ftp.text_targets import PROMPT_LETTERS

    for p in model.prompts:
        g = torch.Generator().manual_seed(int(seed) * 10 + PROMPT_LETTERS.index(p))
        for mod in (model.processors[p], model.aligners[p]):
            bound = 1.0 / mod.proj.in_features ** 0.5  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            with torch.no_grad():
                for name, param in mod.named_parameters():
                    if not name.endswith("log_inv_tau"):
                        param.copy_(torch.empty(param.shape).uniform_(-bound, bound, generator=g))


artefacts.register_producer(KIND, produce)
artefacts.register_consumer("ftp", consumes)
