"""Where things live: the user config file, environment variables and their defaults.

Nothing here hard-codes a dataset location. A user configures real datasets either in a YAML
file (``$BENCH_CONFIG``, else ``~/.config/vlbench/config.yaml``) or through environment
variables (``BENCH_DATA_<NAME>=<root>``). Generated things (the synthetic world, caches, tiny
weights) go under ``$BENCH_HOME`` (default ``./.bench``); records under ``$BENCH_RESULTS``
(default ``./results``); run directories under ``$BENCH_WORK_DIR`` (default ``./work_dirs``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError  # noqa: E402  (re-exported)


def config_file() -> Path:
    env = os.environ.get("BENCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path("~/.config/vlbench/config.yaml").expanduser()


@functools.lru_cache(maxsize=8)
def _load_user_config(path: str, mtime: float) -> dict[str, Any]:
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"user config {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"user config {path} must be a mapping, got {type(data).__name__}")
    return data


def user_config() -> dict[str, Any]:
    """The user config as a dict ({} when the file does not exist)."""
    p = config_file()
    if not p.exists():
        if os.environ.get("BENCH_CONFIG"):
            raise ConfigError(f"BENCH_CONFIG points to {p}, which does not exist")
        return {}
    return _load_user_config(str(p), p.stat().st_mtime)


def _dir(env: str, key: str, default: str) -> Path:
    value = os.environ.get(env) or user_config().get(key) or default
    return Path(value).expanduser().absolute()


def home() -> Path:
    """Root of generated artefacts: synthetic data, caches, tiny weights."""
    return _dir("BENCH_HOME", "home", ".bench")


def results_dir() -> Path:
    return _dir("BENCH_RESULTS", "results", "results")


def work_root() -> Path:
    return _dir("BENCH_WORK_DIR", "work_dir", "work_dirs")


def cache_dir() -> Path:
    return _dir("BENCH_CACHE", "cache", str(home() / "cache"))


def dataset_entry(name: str) -> dict[str, Any]:
    """The user's configuration of dataset ``name``: ``{"root": ..., ...}`` or {}."""
    env = os.environ.get(f"BENCH_DATA_{name.upper()}")
    entry = dict((user_config().get("datasets") or {}).get(name) or {})
    if env:
        entry["root"] = env
        entry["_source"] = f"environment variable BENCH_DATA_{name.upper()}"
    elif entry:
        entry["_source"] = f"{config_file()} (datasets.{name})"
    return entry


def weights_entry(tag: str) -> str | None:
    """A local weights path configured for ``tag`` (``weights: {tag: path}`` or ``BENCH_WEIGHTS_<TAG>``)."""
    env = os.environ.get(f"BENCH_WEIGHTS_{tag.upper().replace('-', '_').replace('/', '_')}")
    if env:
        return env
    return (user_config().get("weights") or {}).get(tag)


def keep_scores() -> bool:
    """Keep the full score matrix (float16) in each run's prediction file: ``$BENCH_KEEP_SCORES=1`` (set by
    ``bench run --keep-scores``) or ``keep_scores: true`` in the user config (issue 23)."""
    env = os.environ.get("BENCH_KEEP_SCORES")
    if env is not None:
        return env.strip().lower() in ("1", "true", "yes")
    return bool(user_config().get("keep_scores", False))
