"""Methods as registry entries: where their MMEngine configs live and what they support.

A method package (``methods/<name>``) registers its MMAction2 recognizer(s) in
``mmaction.registry.MODELS`` and one ``MethodInfo`` here, naming its config per size and the
protocols it supports. ``load_config`` returns the MMEngine config of a size;
``apply_overrides`` sets dotted keys on it and refuses keys that name no existing field.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.registry import METHODS

ALL_PROTOCOLS = ("supervised", "fewshot", "zeroshot", "ava", "linear_probe", "charades")


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """What the harness needs to know about a method.

    Attributes:
        name: registry name (``clip_meanpool``, ``ftp``, ...).
        config_dir: folder of the method's MMEngine configs.
        sizes: size name -> config file name in ``config_dir``.
        protocols: protocols the method supports (zero-shot needs class-name text scoring).
        family: the family used for markers and colours in plots.
        text_modules: dotted submodule names that form the text branch (excluded from
            inference parameters, as the papers do).
        teacher_modules: dotted submodule names used only in training (frozen teachers,
            VLMs): excluded from inference FLOPs and parameters.
        paper: the paper file the method implements (``../shared/papers/...``), if any.
        configure: ``configure(cfg, spec)`` adjusts a run's resolved config in place after the overrides
            (ftp: the loader's batch and gradient accumulation of the run's stage on this run's ranks).
        dry_run_notes: ``dry_run_notes(cfg, world_size) -> lines`` printed by ``bench run --dry-run``.
    """

    name: str
    config_dir: Path
    sizes: dict[str, str]
    protocols: tuple[str, ...]
    family: str = ""
    text_modules: tuple[str, ...] = ()
    teacher_modules: tuple[str, ...] = ()
    paper: str = ""
    configure: Any = None
    dry_run_notes: Any = None

    def config_path(self, size: str) -> Path:
        if size not in self.sizes:
            raise ConfigError(f"method {self.name!r} has no size {size!r}; sizes: {', '.join(sorted(self.sizes))}")
        return self.config_dir / self.sizes[size]

    def supports(self, protocol: str) -> bool:
        return protocol in self.protocols


def register_method(info: MethodInfo) -> MethodInfo:
    unknown = set(info.protocols) - set(ALL_PROTOCOLS)
    if unknown:
        raise ConfigError(f"method {info.name!r} declares unknown protocols {sorted(unknown)}; known: {ALL_PROTOCOLS}")
    return METHODS.register(info.name, info)


def get_method(name: str, where: str = "") -> MethodInfo:
    return METHODS.get(name, where)


def load_config(method: str, size: str):
    """The MMEngine ``Config`` of ``method`` at ``size``."""
    from mmengine.config import Config

    return Config.fromfile(str(get_method(method).config_path(size)))


_CONFIGS: dict[tuple[str, int], Any] = {}


def method_config(method: str, size: str):
    """A fresh copy of the MMEngine config of ``method`` at ``size`` (parsed once per file version)."""
    path = get_method(method).config_path(size)
    key = (str(path), Path(path).stat().st_mtime_ns)
    if key not in _CONFIGS:
        _CONFIGS[key] = load_config(method, size)
    return copy.deepcopy(_CONFIGS[key])


def _missing_key_error(key: str, part: str, node: Any, where: str) -> ConfigError:
    options = sorted(node.keys()) if isinstance(node, dict) else []
    hint = f"; fields there: {', '.join(map(str, options))}" if options else ""
    return ConfigError(f"override {key!r} (from {where}) names no existing config field: {part!r} not found{hint}")


def apply_overrides(cfg, overrides: dict[str, Any], where: str = "overrides") -> None:
    """Set dotted keys (``model.cls_head.loss_weight``) on ``cfg`` in place.

    Every key must name an existing field: an override never silently adds a field. Each value must
    have the type of the default it replaces (``bench.validation.check_override``).
    List elements are addressed by index (``train_pipeline.2.scale``).
    """
    from bench.validation import check_override

    for key, value in overrides.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"override key {key!r} (from {where}) is not a dotted field name")
        parts = key.split(".")
        node: Any = cfg
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list | tuple):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f"override {key!r} (from {where}): {part!r} is not an index of a {len(node)}-element list"
                    )
                if last:
                    node[int(part)] = copy.deepcopy(check_override(key, value, node[int(part)], where))
                else:
                    node = node[int(part)]
                continue
            if not hasattr(node, "keys") or part not in node:
                raise _missing_key_error(key, part, node, where)
            if last:
                node[part] = copy.deepcopy(check_override(key, value, node[part], where))
            else:
                node = node[part]
