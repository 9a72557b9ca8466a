"""Typed checks of what a user writes: YAML read strictly, spec fields, config overrides against their defaults.

- YAML (grid files, ``--set``/``--arg`` values) is read with :class:`StrictLoader`: PyYAML's
  safe loader, refusing duplicate keys, and reading numbers with an exponent but no dot
  (``1e-3``, ``5E4``) as numbers, as YAML 1.2 and every user do (YAML 1.1 reads them as strings).
- :func:`check_spec_fields`: a RunSpec's own fields have their types (an integer seed, names as
  strings, mappings for overrides and protocol parameters).
- :func:`check_override`: an override must have the type of the default it replaces (an int or
  float default takes a number, a string default a string, a mapping default a mapping ...).
  A number given for a float default is stored as a float, so ``lr: 1`` and ``lr: 1.0`` name
  the same run.

Every refusal names the field, the value, where it came from and what is accepted.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from bench.errors import ConfigError


class StrictLoader(yaml.SafeLoader):
    """Safe YAML with duplicate keys refused and YAML 1.2 exponent floats."""


StrictLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_EXP_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXP_FLOAT, list("-+0123456789."))


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found an unhashable key {key!r}",
                key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r} (first at line {seen[key].line + 1}); each key may appear once",
                key_node.start_mark)
        seen[key] = key_node.start_mark
    loader.flatten_mapping(node)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text: str) -> Any:
    """Parse YAML text with :class:`StrictLoader` (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def spec_origin(spec: Any) -> str:
    """Where a spec came from, for messages: its grid, case and cell, or the command line."""
    if getattr(spec, "grid", None):
        case = f", case {spec.case!r}" if spec.case else ""
        cell = f", cell #{spec.cell}" if spec.cell is not None else ""
        return f"grid {spec.grid}{case}{cell}"
    return "the command line or a direct call"


def check_spec_fields(spec: Any, where: str = "") -> None:
    """Refuse RunSpec fields of the wrong type (a ConfigError naming the field, the value and what is accepted)."""
    src = f" (from {where or spec_origin(spec)})"
    for name in ("method", "protocol", "dataset", "size"):
        v = getattr(spec, name)
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{name}={v!r}{src} has type {type(v).__name__}; accepted: a non-empty name (string)")
    if not _is_int(spec.seed) or spec.seed < 0:
        raise ConfigError(f"seed={spec.seed!r}{src} has type {type(spec.seed).__name__}; accepted: an integer >= 0")
    for name in ("protocol_args", "overrides"):
        v = getattr(spec, name)
        if not isinstance(v, dict):
            raise ConfigError(f"{name}={v!r}{src} has type {type(v).__name__}; accepted: a mapping of names to values")
        bad = [k for k in v if not isinstance(k, str) or not k]
        if bad:
            raise ConfigError(f"{name} keys {bad!r}{src} are not names; accepted: strings (dotted for overrides)")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if _is_int(v):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, dict):
        return "mapping"
    return type(v).__name__


_ACCEPTED = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
             "list": "a list", "mapping": "a mapping"}


# Kinds of default an override may set to null: a string (a weights field set to null means random
# initialisation) and a mapping (a component set to null is switched off, e.g. ``model.blending=None``,
# as MMEngine configs do).
NULLABLE_KINDS = ("str", "mapping")

# Config fields whose documented type is a union (the last key of the dotted override -> accepted kinds):
# class names are a label file's name, the names themselves, or a mapping naming their dataset;
# a lexicon is a named list, a file or the words.
UNION_FIELDS: dict[str, tuple[str, ...]] = {
    "class_names": ("str", "list", "mapping"),
    "lexicon": ("str", "list"),
}


def check_override(key: str, value: Any, default: Any, where: str) -> Any:
    """``value`` checked against the type of ``default`` it replaces; returns it normalised.

    Accepted: anything for a null default; for a float default any number (stored as float); for an int
    default an integer; for a bool default a bool; for a string default a string, or null (a weights
    field set to null means random initialisation); for a list default a list; for a mapping default a
    mapping, or null (the component switched off).
    """
    dk, vk = _kind(default), _kind(value)
    if dk == "null" or dk not in _ACCEPTED:
        return value
    union = UNION_FIELDS.get(key.rsplit(".", 1)[-1])
    if union is not None and dk in union:
        if vk in union:
            return value
        raise ConfigError(f"override {key}={value!r} (from {where}) has type {vk}; accepted: "
                          + " or ".join(_ACCEPTED[k] for k in union))
    if dk == "float" and vk in ("int", "float"):
        return float(value)
    if dk == vk or (dk in NULLABLE_KINDS and vk == "null"):
        return value
    accepted = _ACCEPTED[dk] + (" or null" if dk in NULLABLE_KINDS else "")
    raise ConfigError(f"override {key}={value!r} (from {where}) has type {vk}, but the default it replaces is "
                      f"{default!r} ({dk}); accepted: {accepted}")
