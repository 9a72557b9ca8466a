"""``KEY=VALUE`` options of the command line (``--set``, ``--arg``), values read as YAML."""

from __future__ import annotations

from typing import Any

import yaml

from bench.errors import ConfigError
from bench.validation import load_yaml_text


def parse_pairs(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {item!r} is not of the form key=value")
        try:
            out[key.strip()] = load_yaml_text(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"{what} {item!r}: the value is not valid YAML ({e})") from e
    return out
