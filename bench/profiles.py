"""Cluster profiles: the resources one job of a grid asks for, read from ``slurm/<name>.yaml``.

A profile is a flat YAML mapping whose keys are the field names of hydra's submitit launcher
(``partition``, ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``timeout_min``, ...), plus
``executor`` (which of ``debug``, ``local`` or ``slurm`` runs the jobs) and ``description``.
Users keep their own profiles in a folder named by ``$BENCH_SLURM_PROFILES`` (several folders
separated by ``os.pathsep``); those shadow the profiles shipped in the repository's ``slurm/``.

Why a fixed list of fields: a typo such as ``gpu_per_node`` would otherwise be dropped on the
floor and the job would silently run without a GPU, so an unknown field is an error that lists
the accepted ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError

EXECUTORS = ("debug", "local", "slurm")

# field -> (accepted types, default). Names and meanings follow hydra-submitit-launcher's
# SlurmQueueConf; ``executor`` and ``description`` are ours.
FIELDS: dict[str, tuple[tuple[type, ...], Any]] = {
    "executor": ((str,), "slurm"),
    "description": ((str,), ""),
    # resources of one job (generic submitit parameters)
    "timeout_min": ((int,), 60),
    "nodes": ((int,), 1),
    "tasks_per_node": ((int,), 1),
    "cpus_per_task": ((int,), 1),
    "gpus_per_node": ((int,), 0),
    "mem_gb": ((int, float), None),
    "name": ((str,), None),
    "stderr_to_stdout": ((bool,), False),
    # SLURM-only
    "partition": ((str,), None),
    "qos": ((str,), None),
    "account": ((str,), None),
    "constraint": ((str,), None),
    "exclude": ((str,), None),
    "gres": ((str,), None),
    "comment": ((str,), None),
    "cpus_per_gpu": ((int,), None),
    "gpus_per_task": ((int,), None),
    "mem_per_gpu": ((str,), None),
    "mem_per_cpu": ((str,), None),
    "signal_delay_s": ((int,), 90),
    "array_parallelism": ((int,), 256),
    "max_num_timeout": ((int,), 3),
    "setup": ((list,), []),
    "srun_args": ((list,), []),
    "additional_parameters": ((dict,), {}),
}
_POSITIVE = ("timeout_min", "nodes", "tasks_per_node", "cpus_per_task", "array_parallelism")


def repo_profile_dir() -> Path:
    """The ``slurm/`` folder of the repository: the parent of the ``bench`` package holds it."""
    return Path(__file__).resolve().parent.parent / "slurm"


def search_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``, first match wins: ``$BENCH_SLURM_PROFILES``, then the repo's."""
    env = os.environ.get("BENCH_SLURM_PROFILES", "")
    dirs = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [*dirs, repo_profile_dir()]


def available_profiles(dirs: Iterable[Path] | None = None) -> list[str]:
    """Names of all profiles found in the search folders."""
    names: set[str] = set()
    for d in dirs if dirs is not None else search_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def find_profile(name: str, dirs: Iterable[Path] | None = None) -> Path:
    """Resolve a profile name (or a path to a YAML file) to its file."""
    as_path = Path(name).expanduser()
    if as_path.suffix in (".yaml", ".yml") or os.sep in name:
        if as_path.is_file():
            return as_path
        raise ConfigError(f"SLURM profile file {as_path} does not exist")
    dirs = list(dirs) if dirs is not None else search_dirs()
    for d in dirs:
        for suffix in (".yaml", ".yml"):
            p = d / f"{name}{suffix}"
            if p.is_file():
                return p
    raise ConfigError(
        f"unknown SLURM profile {name!r}; available: {', '.join(available_profiles(dirs)) or '(none)'} "
        f"(searched {', '.join(str(d) for d in dirs)}; add folders with $BENCH_SLURM_PROFILES)"
    )


def validate(profile: Mapping[str, Any], source: str = "profile") -> dict[str, Any]:
    """Check field names, types and values; return the profile completed with defaults."""
    unknown = sorted(set(profile) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown} in {source}; accepted: {', '.join(sorted(FIELDS))}")
    out: dict[str, Any] = {}
    for key, (types, default) in FIELDS.items():
        value = profile.get(key, default)
        if value is None:
            out[key] = None
            continue
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            names = "/".join(t.__name__ for t in types)
            raise ConfigError(f"field {key}={value!r} in {source} must be {names}, not {type(value).__name__}")
        out[key] = list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
    if out["executor"] not in EXECUTORS:
        raise ConfigError(f"executor={out['executor']!r} in {source}; accepted: {', '.join(EXECUTORS)}")
    for key in _POSITIVE:
        if out[key] is not None and out[key] < 1:
            raise ConfigError(f"field {key}={out[key]} in {source} must be >= 1")
    for key in ("gpus_per_node", "max_num_timeout", "signal_delay_s"):
        if out[key] is not None and out[key] < 0:
            raise ConfigError(f"field {key}={out[key]} in {source} must be >= 0")
    for key in ("setup", "srun_args"):
        if not all(isinstance(line, str) for line in out[key]):
            raise ConfigError(f"field {key} in {source} must be a list of strings, got {out[key]!r}")
    return out


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Overrides replace fields; ``additional_parameters`` is merged key by key."""
    out = dict(base)
    for key, value in (overrides or {}).items():
        if key == "additional_parameters" and isinstance(value, Mapping):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["timeout_min=30", "partition=gpu"]`` -> dict; values are read as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"profile override {item!r} is not of the form field=value")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"profile override {item!r}: value is not valid YAML ({e})") from e
    return out


def load_profile(
    name: str,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    dirs: Iterable[Path] | None = None,
) -> dict[str, Any]:
    """Load profile ``name`` (or a YAML path), apply overrides and validate.

    Args:
        name: a profile name (``paper``, ``local_cluster``) or a path to a YAML file.
        overrides: fields to replace, as a mapping or as ``field=value`` strings.
        dirs: folders to search instead of :func:`search_dirs` (tests).

    Returns:
        The complete profile: every field of :data:`FIELDS`, defaults filled in, plus
        ``profile`` (the name) and ``profile_path``.
    """
    path = find_profile(name, dirs)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"SLURM profile {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"SLURM profile {path} must be a mapping of fields, got {type(data).__name__}")
    validate(data, source=str(path))
    if overrides is not None and not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    source = f"{path} with overrides {dict(overrides)}" if overrides else str(path)
    out = validate(merge(data, overrides), source=source)
    out["profile"] = path.stem
    out["profile_path"] = str(path)
    return out
