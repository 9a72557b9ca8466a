"""The FTP recognizer: frozen encoder, prompt processors, integration, classification head.

ftp paper, Fig. 2(a) and section 3.2. The stage is set per epoch by ``FTPStageHook``; with
``stage1.mode='shared'`` stage 1 is a separate producer run per prompt letter (``methods/ftp/stage1.py``)
and a cell's run is stage 2 only, with ``'per_cell'`` one run does both:

- stage 1 (``stage1_epochs`` epochs): each processor ``i`` (one per prompt letter) is
  trained with InfoNCE to match its prompt's answer embeddings (Fig. 4). A per-processor
  alignment layer ``D -> E`` (E: text embedding size) and a temperature exist only for this
  loss; they are not on the inference path.
- stage 2 (the remaining epochs): encoder and processors frozen; the integration layers
  (learned replication + projection per processor), the position conv, the two transformer
  blocks and the classifier train with cross-entropy (label smoothing, mixup).

At inference ``f = alpha * m + (1 - alpha) * sum_i r_i`` (Fig. 3; ``alpha`` is Table A3's
α = 0.7, our reading) goes through the head; the VLM and text encoder are never used.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import torch
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import nn

from bench.errors import ConfigError
from methods.ftp.processors import FeatureProcessor, Integration, gather_plain, info_nce
from methods.ftp.text_targets import PROMPT_LETTERS, TextTargets

log = logging.getLogger(__name__)
HEAD_TYPES = ("ftp", "linear")
FTP_HEAD_ONLY = ("num_heads", "num_blocks", "hidden", "mlp_ratio")  # FTPHead arguments the linear head lacks


MODES = ("shared", "per_cell")  # model.stage1.mode (methods/ftp/stage1.py)


def settings_of(model_cfg: Any) -> dict[str, Any]:
    """``model.stage1`` with defaults, checked: ``mode`` (shared | per_cell), ``dataset``, ``split``."""
    s = dict(model_cfg.get("stage1") or {})
    unknown = set(s) - {"mode", "dataset", "split"}
    if unknown:
        raise ConfigError(f"model.stage1 has unknown keys {sorted(unknown)}; accepted: mode, dataset, split")
    mode = s.get("mode", "shared")
    if mode not in (*MODES, "produce"):
        raise ConfigError(f"model.stage1.mode={mode!r}; accepted: {', '.join(MODES)}")
    return {"mode": mode, "dataset": s.get("dataset"), "split": s.get("split") or "train"}


class Aligner(nn.Module):
    """Stage-1 only: pools ``v_i`` over its ``T + N`` rows and maps it to the text embedding space."""

    def __init__(self, dim: int, text_dim: int, temperature: float = 0.07) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, text_dim)
        self.log_inv_tau = nn.Parameter(torch.tensor(1.0 / temperature).log())

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.proj(v.mean(dim=1))

    @property
    def temperature(self) -> torch.Tensor:
        return 1.0 / self.log_inv_tau.exp().clamp(max=100)


def plain(value: Any) -> Any:
    """MMEngine ``ConfigDict``/tuples -> plain dicts and lists (the text layer hashes them as JSON)."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def resolve_vlm(text: dict[str, Any]) -> dict[str, Any]:
    """Overlay the entry ``text.vlms[text.vlm]`` (provider, provider_options, noise) on the text settings.

    Table 5 compares VLMs by name; a grid profile maps each name to a provider (the paper profile to
    real models, the default profile to oracles of graded noise), and a case only names the VLM.
    """
    name = text.get("vlm")
    if not name:
        return text
    table = text.get("vlms") or {}
    if name not in table:
        raise ConfigError(f"model.text.vlm={name!r} is not in model.text.vlms; defined: {sorted(table) or 'none'}")
    unknown = set(table[name]) - {"provider", "provider_options", "noise", "params"}
    if unknown:
        raise ConfigError(f"model.text.vlms.{name} has unknown keys {sorted(unknown)}; accepted: provider, "
                          "provider_options, noise, params")
    return {**text, **table[name]}


def select_encoder(name: str, table: dict, cls_head: dict, kwargs: dict) -> tuple[dict, dict, Any, dict]:
    """The backbone, head, feature grid and preprocessor of encoder ``name`` of ``model.encoders``."""
    if name not in table:
        raise ConfigError(f"model.encoder={name!r} is not in model.encoders; defined: {sorted(table) or 'none'}")
    entry = dict(table[name])
    missing = {"backbone", "feature_grid", "in_channels", "num_heads"} - set(entry)
    if missing:
        raise ConfigError(f"model.encoders.{name} lacks {sorted(missing)}")
    head = {**dict(cls_head), "in_channels": entry["in_channels"], "num_heads": entry["num_heads"]}
    kwargs = dict(kwargs)
    if "mean" in entry and kwargs.get("data_preprocessor"):
        kwargs["data_preprocessor"] = {**dict(kwargs["data_preprocessor"]), "mean": entry["mean"], "std": entry["std"]}
    return dict(entry["backbone"]), head, entry["feature_grid"], kwargs


def check_prompts(prompts: Sequence[str], where: str = "model.prompts") -> list[str]:
    """Validate a prompt subset (letters A-D, no repeats) and return it in canonical order."""
    if isinstance(prompts, str):
        raise ConfigError(f"{where}={prompts!r}: give a list of letters such as ['A', 'B', 'C', 'D']")
    bad = [p for p in prompts if p not in PROMPT_LETTERS]
    if bad:
        raise ConfigError(f"{where}={list(prompts)!r}: unknown prompt letter(s) {bad}; accepted: "
                          f"{', '.join(PROMPT_LETTERS)} (A category, B components, C detail, D context)")
    if len(set(prompts)) != len(prompts):
        raise ConfigError(f"{where}={list(prompts)!r}: a prompt appears twice")
    return [p for p in PROMPT_LETTERS if p in prompts]


@MODELS.register_module()
class FTPRecognizer(Recognizer3D):
    """FTP (four-tiered prompts) around a frozen video encoder.

    Args:
        backbone: an encoder of ``methods.ftp.encoders`` (frozen).
        cls_head: ``FTPHead`` (or ``FTPLinearHead`` with ``head_type='linear'``).
        prompts: the prompt subset, e.g. ``['A', 'B', 'C', 'D']`` (Table 7); one processor each.
        feature_grid: ``(T', h, w)`` of the encoder's feature map for the input size.
        text: stage-1 text settings (provider, encoder, keyframes, noise, dataset, missing policy).
        text_dim: size of the text embeddings (the text encoder's embedding size).
        keyframes: K, keyframes shown to the VLM (appendix C); must not exceed ``num_frames``.
        num_frames: frames of one clip.
        stage1_epochs: epochs of stage 1 (the rest of the run is stage 2).
        alpha: weight of the encoder map in the integration sum.
        head_type: ``ftp`` or ``linear`` (the plain "without FTP" rows of Table 6: the encoder's pooled vector
            and one linear layer; ``cls_head`` is turned into an ``FTPLinearHead``).
        pool: processors' pooling (``mean`` / ``max``).
        blending: stage-2 mixup (``MixupBlending``), applied to the frozen encoder's map.
        feature_cache: cache the frozen encoder's outputs on disk (keyed by input content).
        temperature: initial InfoNCE temperature.
        encoder, encoders: Table 6 by name: ``encoders[encoder]`` (``backbone``, ``feature_grid``,
            ``in_channels``, ``num_heads``, optional ``mean``/``std``) replaces the backbone and sizes the head,
            so that one grid case names an encoder and each profile maps the name to a model.
        stage1: ``dict(mode, dataset, split)`` (``methods.ftp.stage1``): ``shared`` loads each letter's
            processors from a stage-1 artefact made once on ``dataset`` and trains stage 2 only; ``per_cell``
            trains them in this run on its own training set (the default when the field is absent).
    """

    def __init__(self, backbone: dict, cls_head: dict, prompts: Sequence[str] = PROMPT_LETTERS,
                 feature_grid: Sequence[int] = (8, 14, 14), text: dict | None = None, text_dim: int = 512,
                 keyframes: int = 5, num_frames: int = 8, stage1_epochs: int = 1, alpha: float = 0.7,
                 head_type: str = "ftp", pool: str = "mean", blending: dict | None = None,
                 feature_cache: bool | dict = False, temperature: float = 0.07, encoder: str | None = None,
                 encoders: dict | None = None, stage1: dict | None = None, **kwargs: Any) -> None:
        if encoder:
            backbone, cls_head, feature_grid, kwargs = select_encoder(encoder, encoders or {}, cls_head, kwargs)
        prompts = check_prompts(prompts)
        if head_type not in HEAD_TYPES:
            raise ConfigError(f"model.head_type={head_type!r}; accepted: {', '.join(HEAD_TYPES)}")
        if head_type == "linear":
            if prompts:
                raise ConfigError(f"model.head_type='linear' is the plain encoder without FTP; it takes no prompts, "
                                  f"got model.prompts={prompts}")
            cls_head = {k: v for k, v in dict(cls_head).items() if k not in FTP_HEAD_ONLY}
            cls_head["type"] = "FTPLinearHead"
        super().__init__(backbone=backbone, cls_head=cls_head, **kwargs)
        self.prompts = prompts
        if not 1 <= int(keyframes) <= int(num_frames):
            raise ConfigError(f"model.keyframes={keyframes}: K keyframes must be between 1 and the clip's "
                              f"num_frames={num_frames} (appendix C varies K in 1, 3, 5, 7)")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"model.alpha={alpha}: the integration weight must be in [0, 1]")
        self.head_type, self.keyframes, self.num_frames = head_type, int(keyframes), int(num_frames)
        self.stage1_epochs, self.alpha = int(stage1_epochs), float(alpha)
        self.text_cfg = resolve_vlm(plain(text or {}))
        self.stage1_cfg = settings_of({"stage1": plain(stage1 or {"mode": "per_cell"})})
        t, h, w = (int(v) for v in feature_grid)
        self.grid = (t, h, w)
        d = self.backbone.dim
        # One draw from the global RNG whatever the prompt subset, then each letter's modules from their own
        # seed: a letter's modules start the same in every subset, and the RNG after the model is built (stage
        # 2's shuffles and mixup) does not depend on how many letters a cell has, so Table 7's groups differ
        # only by their prompts.
        base = int(torch.randint(0, 2**31 - 1, (1,)).item())

        def per_letter(part: int, p: str, build: Any) -> nn.Module:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(base + 8 * PROMPT_LETTERS.index(p) + part)
                return build()

        self.processors = nn.ModuleDict({p: per_letter(0, p, lambda: FeatureProcessor(d, pool)) for p in self.prompts})
        self.integration = nn.ModuleDict({p: per_letter(1, p, lambda: Integration(d, t, h * w)) for p in self.prompts})
        self.aligners = nn.ModuleDict({p: per_letter(2, p, lambda: Aligner(d, text_dim, temperature))
                                       for p in self.prompts})
        self.blending = MODELS.build(blending) if blending else None
        self.feature_cache = feature_cache
        self._cache = None
        self.stage = 2
        self.targets: TextTargets | None = None

    # ------------------------------------------------------------------ frozen encoder
    def _feature_cache(self):
        if self._cache is None:
            from bench.models.cache import state_dict_hash, teacher_cache_from_config

            name = f"ftp-encoder:{sorted(self.backbone.identity().items())}"
            self._cache = teacher_cache_from_config(self.feature_cache, name, state_dict_hash(self.backbone))
        return self._cache

    def _from_memory(self, keys: list[dict], load: Any) -> list[torch.Tensor]:
        """Encoder rows kept in memory across epochs (frozen encoder, deterministic sampling); misses are read
        from (or written to) the disk cache by ``load(indices)``, which serves other cells and processes.

        Bounded by ``feature_cache.memory_mb`` (default 4096): past it, rows are no longer kept, only read.
        """
        memo = self.__dict__.setdefault("_memory", {})
        cap = float((self.feature_cache or {}).get("memory_mb", 4096) if isinstance(self.feature_cache, dict)
                    else 4096) * 2**20
        names = [k["input_sha256"] for k in keys]
        out: list[torch.Tensor | None] = [memo.get(n) for n in names]
        missing = [i for i, o in enumerate(out) if o is None]
        if missing:
            for i, row in zip(missing, load(missing)):
                out[i] = row
                used = self.__dict__.get("_memory_bytes", 0)
                if used + row.numel() * row.element_size() <= cap:
                    memo[names[i]] = row
                    self.__dict__["_memory_bytes"] = used + row.numel() * row.element_size()
        return out  # type: ignore[return-value]

    def encode(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(m, pooled)`` of the frozen encoder for ``(B, C, T, H, W)``, through the feature cache when on."""
        if not self.feature_cache or torch.jit.is_tracing():  # FLOPs counting traces the real computation
            return self.backbone(inputs)
        cache = self._feature_cache()
        flat = inputs.detach().float().cpu().contiguous()
        keys = [{"input_sha256": hashlib.sha256(x.numpy().tobytes()).hexdigest(), "shape": list(x.shape)}
                for x in flat]
        pre = {"format": "NCTHW", "grid": list(self.grid)}

        def compute(idx: list[int]) -> list[torch.Tensor]:
            # One clip at a time: a batched forward gives floats that depend on the batch's other clips
            # (matmul blocking), so a cold cache (clips computed in shuffled batches) and a warm one (rows
            # read back) would train on slightly different inputs and the same seed would not repeat.
            rows = []
            with torch.random.fork_rng():  # the RNG must not depend on whether the cache was cold
                for i in idx:
                    m, pooled = self.backbone(inputs[i: i + 1])
                    rows.append(torch.cat((m[0].flatten(), pooled[0])).cpu())
            return rows

        rows = self._from_memory(keys, lambda idx: cache.get_many([keys[i] for i in idx], [{}] * len(idx), pre,
                                                              lambda sub: compute([idx[j] for j in sub])))
        d = self.backbone.dim
        t, h, w = self.grid
        packed = torch.stack(rows).to(inputs.device)
        return packed[:, : t * h * w * d].view(-1, t, h, w, d), packed[:, t * h * w * d:]

    # ------------------------------------------------------------------ FTP parts
    def integrate(self, m: torch.Tensor) -> torch.Tensor:
        """``f = alpha * m + (1 - alpha) * sum_i r_i`` (Fig. 3); ``m`` alone when no prompt is used."""
        if m.shape[1:4] != self.grid:
            raise ConfigError(f"encoder feature map has grid {tuple(m.shape[1:4])}, model.feature_grid is "
                              f"{self.grid}; set feature_grid to (frames, h, w) of the encoder's output")
        if not self.prompts:
            return m
        with torch.no_grad():  # processors are frozen in stage 2 and at inference
            vs = {p: self.processors[p](m) for p in self.prompts}
        r = sum(self.integration[p](vs[p]) for p in self.prompts)
        return self.alpha * m + (1.0 - self.alpha) * r.view_as(m)

    def extract_feat(self, inputs: torch.Tensor, stage: str = "neck", data_samples=None,
                     test_mode: bool = False) -> tuple:
        """Encoder -> integration (or pooled vector for the linear head); views flattened to the batch."""
        inputs = inputs.flatten(0, 1)
        m, pooled = self.encode(inputs)
        feats = pooled if self.head_type == "linear" else self.integrate(m)
        if stage == "head":
            return self.cls_head(feats), {}
        return feats, {}

    def video_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """A ``(B, D)`` video representation per view (linear probe): the head's pooled features."""
        feats, _ = self.extract_feat(inputs.unsqueeze(1) if inputs.dim() == 5 else inputs)
        if self.head_type == "linear":
            return feats
        return self.cls_head.features(feats)

    def feature_map(self, inputs: torch.Tensor) -> torch.Tensor:
        """The integrated map ``f`` as ``(B, D, T, h, w)`` (the AVA protocol pools person boxes from it)."""
        m, _ = self.encode(inputs)
        f = m if self.head_type == "linear" else self.integrate(m)
        return f.permute(0, 4, 1, 2, 3)

    # ------------------------------------------------------------------ training
    def stage1_loss(self, inputs: torch.Tensor, data_samples) -> dict[str, torch.Tensor]:
        """InfoNCE of each processor against its own prompt's answer embeddings (Fig. 4)."""
        if self.targets is None:
            raise ConfigError("FTP stage 1 has no text targets: the config needs custom_hooks="
                              "[dict(type='FTPStageHook')] so that answers are prepared before training")
        inputs = inputs.flatten(0, 1)
        m, _ = self.encode(inputs)
        files = [ds.metainfo["filename"] for ds in data_samples]
        views = m.shape[0] // len(files)
        losses = {}
        for p in self.prompts:
            emb, ids, present = self.targets.lookup(p, files)
            emb, ids, present = (x.repeat_interleave(views, 0).to(m.device) for x in (emb, ids, present))
            if int(gather_plain(present).sum()) < 2:  # the same decision on every rank (global batch)
                continue
            z = self.aligners[p](self.processors[p](m))
            losses[f"loss_nce_{p}"] = info_nce(z, emb, self.aligners[p].temperature, ids, present)
        return losses

    def stage2_loss(self, inputs: torch.Tensor, data_samples) -> dict[str, torch.Tensor]:
        inputs = inputs.flatten(0, 1)
        m, pooled = self.encode(inputs)
        if self.blending is not None:
            if self.head_type == "linear":
                pooled, data_samples = self.blending(pooled, data_samples)
            else:
                m, data_samples = self.blending(m, data_samples)
        feats = pooled if self.head_type == "linear" else self.integrate(m)
        return self.cls_head.loss(feats, data_samples)

    def loss(self, inputs: torch.Tensor, data_samples, **kwargs) -> dict:
        if self.stage == 1:
            return self.stage1_loss(inputs, data_samples)
        return self.stage2_loss(inputs, data_samples)

    def train_step(self, data, optim_wrapper) -> dict[str, torch.Tensor]:
        """MMEngine's step, skipping stage-1 batches when no processor trains (no prompts, or no answers)."""
        if self.stage == 1 and not self.prompts:
            return {}
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode="loss")
        if not losses:
            return {}
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def trainable_parts(self, stage: int) -> list[str]:
        """Top-level submodules that train in ``stage`` (1: processors + aligners; 2: integration + head)."""
        if stage == 1:
            return ["processors", "aligners"]
        return ["cls_head"] if self.head_type == "linear" else ["integration", "cls_head"]
