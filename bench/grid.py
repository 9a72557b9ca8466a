"""Grid YAML -> validated list of RunSpecs.

A grid file (``ablations/*.yaml``, loaded with a safe loader, no Python in it) has:

- ``name``; optional ``description``, ``table`` (a table spec) and ``plot`` (a plot spec);
- ``include``: a shared base file (relative to the grid file) deep-merged under this one;
- ``base``: method, protocol, protocol_args, seed, overrides shared by every cell;
- ``profiles``: per setting (``default`` = synthetic world, tiny sizes, local executor;
  ``paper`` = real datasets and sizes on SLURM) the ``size``, ``dataset``, ``executor``,
  ``launcher`` (a SLURM profile name under ``profile`` plus field overrides), ``overrides`` and
  ``zip`` groups of its own (added to the grid's: axes whose values differ per profile, such as the
  datasets of a protocol column);
- ``grid``: axes expanded as a cartesian product; ``zip``: groups of axes that vary together;
  ``cases``: named cells for tables whose rows are not a product; ``seeds``.

An axis key is a spec field (``size``, ``dataset``, ``seed``, ``protocol``), ``protocol_args.<name>``,
``protocol_args`` (a mapping merged into the cell's protocol parameters), or a dotted key into the
method's config. Config keys must name existing fields: every cell is
checked before anything is submitted, and all problems are reported at once.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError, ValidationError
from bench.spec import RunSpec

TOP_KEYS = {"name", "description", "include", "base", "profiles", "grid", "zip", "cases", "seeds", "table", "plot",
            "notes"}
BASE_KEYS = {"method", "protocol", "protocol_args", "seed", "overrides", "size", "dataset"}
PROFILE_KEYS = {"size", "dataset", "executor", "launcher", "overrides", "protocol_args", "description", "zip"}
SPEC_AXES = {"size", "dataset", "seed", "method", "protocol"}
DEFAULT_PROFILE = "default"


@dataclasses.dataclass
class Grid:
    """A loaded grid: its cells as RunSpecs, and where/how they run under the chosen profile."""

    name: str
    path: Path
    profile: str
    specs: list[RunSpec]
    executor: str
    launcher: dict[str, Any]
    table: str | None = None
    plot: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


def load_yaml(path: Path) -> dict[str, Any]:
    """Safe-load a YAML mapping, with errors naming the file."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read grid file {path}: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:
        raise ConfigError(f"{path}: YAML tags that construct Python objects are refused ({e.problem})") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a grid file must be a mapping, got {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in top.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def read_grid(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"include cycle: {' -> '.join(map(str, (*_seen, path)))}")
    data = load_yaml(path)
    inc = data.pop("include", None)
    if inc:
        data = deep_merge(read_grid(path.parent / inc, (*_seen, path)), data)
    return data


def _axis_cells(raw: dict[str, Any], problems: list[str], where: str,
                extra_zip: list[Any] | None = None) -> list[dict[str, Any]]:
    """The product of ``grid`` axes times each ``zip`` group (the grid's, then the profile's), as {key: value}s."""
    axes = raw.get("grid") or {}
    if not isinstance(axes, dict) or any(not isinstance(v, list) or not v for v in axes.values()):
        problems.append(f"{where}: 'grid' must map keys to non-empty lists, got {axes!r}")
        axes = {}
    cells = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())] or [{}]
    for i, group in enumerate([*(raw.get("zip") or []), *(extra_zip or [])]):
        lengths = {len(v) for v in group.values()} if isinstance(group, dict) else set()
        if not isinstance(group, dict) or len(lengths) != 1:
            problems.append(f"{where}: zip group {i} must map keys to lists of one common length, got {group!r}")
            continue
        rows = [dict(zip(group, vals, strict=True)) for vals in zip(*group.values(), strict=True)]
        cells = [{**c, **r} for c in cells for r in rows]
    return cells


def _apply(spec_fields: dict[str, Any], key: str, value: Any) -> None:
    if key in SPEC_AXES:
        spec_fields[key] = value
    elif key.startswith("protocol_args."):
        spec_fields["protocol_args"][key.split(".", 1)[1]] = value
    elif key == "protocol_args" and isinstance(value, dict):  # a whole set of protocol parameters (one zip row)
        spec_fields["protocol_args"].update(value)
    else:
        spec_fields["overrides"][key] = value


def expand(raw: dict[str, Any], profile: str, where: str) -> tuple[list[RunSpec], list[str]]:
    """All cells of a grid under ``profile``, and the problems found in the file's structure."""
    problems: list[str] = []
    unknown = set(raw) - TOP_KEYS
    if unknown:
        problems.append(f"{where}: unknown top-level keys {sorted(unknown)}; accepted: {sorted(TOP_KEYS)}")
    base = raw.get("base") or {}
    if set(base) - BASE_KEYS:
        extra = sorted(set(base) - BASE_KEYS)
        problems.append(f"{where}: unknown keys in 'base': {extra}; accepted: {sorted(BASE_KEYS)}")
    profiles = raw.get("profiles") or {}
    prof = profiles.get(profile)
    if prof is None:
        problems.append(f"{where}: no profile {profile!r}; profiles in this grid: {sorted(profiles) or 'none'}")
        prof = {}
    elif set(prof) - PROFILE_KEYS:
        problems.append(f"{where}: unknown keys in profile {profile!r}: {sorted(set(prof) - PROFILE_KEYS)}; "
                        f"accepted: {sorted(PROFILE_KEYS)}")
    for key in ("method", "protocol"):
        if not base.get(key):
            problems.append(f"{where}: 'base.{key}' is required")
    cases = raw.get("cases") or {"": {}}
    if not isinstance(cases, dict):
        problems.append(f"{where}: 'cases' must map case names to override mappings")
        cases = {"": {}}
    seeds = raw.get("seeds") or [base.get("seed", 0)]
    specs = []
    for case_name, case in cases.items():
        for axes in _axis_cells(raw, problems, where, prof.get("zip")):
            for seed in seeds:
                fields: dict[str, Any] = {
                    "method": base.get("method", ""),
                    "protocol": base.get("protocol", ""),
                    "dataset": prof.get("dataset", base.get("dataset", "")),
                    "size": prof.get("size", base.get("size", "tiny")),
                    "seed": seed,
                    "protocol_args": {**(base.get("protocol_args") or {}), **(prof.get("protocol_args") or {})},
                    "overrides": {**(base.get("overrides") or {}), **(prof.get("overrides") or {})},
                }
                for k, v in {**(case or {}), **axes}.items():
                    _apply(fields, k, v)
                label = case_name or ",".join(f"{k}={v}" for k, v in axes.items()) or None
                specs.append(RunSpec(**fields, grid=raw.get("name"), case=label, cell=len(specs)))
    if not specs:
        problems.append(f"{where}: the grid expands to no cells")
    return specs, problems


def load(path: str | Path, profile: str | None = None, overrides: dict[str, Any] | None = None) -> Grid:
    """Load and expand a grid file under ``profile`` (structure only; see ``validate`` for the cells)."""
    from bench import settings

    path = Path(path)
    raw = read_grid(path)
    profile = profile or settings.user_config().get("profile") or DEFAULT_PROFILE
    specs, problems = expand(raw, profile, str(path))
    if not raw.get("name"):
        problems.append(f"{path}: 'name' is required")
    if problems:
        raise ValidationError(problems, what=f"grid {path}")
    prof = raw["profiles"][profile]
    launcher = dict(prof.get("launcher") or {})
    if overrides:
        launcher.update(overrides)
    return Grid(raw["name"], path, profile, specs, prof.get("executor", "local"), launcher,
                raw.get("table"), raw.get("plot"), raw)


def validate(specs: list[RunSpec], what: str = "grid") -> None:
    """Check every cell as the job would before training; raise one error listing all problems."""
    from bench.job import validate as validate_spec

    problems = []
    for spec in specs:
        for p in validate_spec(spec):
            problems.append(f"cell #{spec.cell} ({spec.case or spec.run_id}): {p}")
    if problems:
        raise ValidationError(problems, what=what)
