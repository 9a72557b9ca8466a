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
import re
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError, ConfigError, ValidationError
from bench.spec import RunSpec
from bench.validation import load_yaml_text

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
        data = load_yaml_text(text)
    except yaml.constructor.ConstructorError as e:
        if "duplicate key" in str(e.problem):
            raise ConfigError(f"{path}: {e.problem} ({e.problem_mark})".replace("\n", " ")) from e
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
    if inc is not None and not isinstance(inc, str):
        raise ConfigError(f"{path}: include={inc!r} must be the path of a grid file (relative to {path.parent})")
    if inc:
        data = deep_merge(read_grid(path.parent / inc, (*_seen, path)), data)
    return data


NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
PLOTS = ("pareto", "axis")


def check_name(name: Any, what: str, where: str) -> str | None:
    """A problem with a grid or case name, which reaches paths and the sbatch header (None when fine)."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name or name in (".",):
        return (f"{where}: {what} {name!r} is not accepted; accepted: a string of letters, digits, '_', '.' and '-' "
                f"(no '/', no '..', no spaces or newlines)")
    return None


def _mapping(value: Any, what: str, where: str, problems: list[str], required: bool = False) -> dict[str, Any]:
    """``value`` if it is a mapping (None: {}), else a problem and {}."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: {what} must be a mapping, got {type(value).__name__} {value!r}")
        return {}
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        problems.append(f"{where}: {what} has keys that are not names: {bad!r}")
        return {k: v for k, v in value.items() if isinstance(k, str)}
    return value


def _axis_cells(raw: dict[str, Any], problems: list[str], where: str,
                extra_zip: list[Any] | None = None) -> list[dict[str, Any]]:
    """The product of ``grid`` axes times each ``zip`` group (the grid's, then the profile's), as {key: value}s."""
    axes = raw.get("grid") or {}
    if not isinstance(axes, dict) or any(not isinstance(v, list) or not v for v in axes.values()):
        problems.append(f"{where}: 'grid' must map keys to non-empty lists, got {axes!r}")
        axes = {}
    cells = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())] or [{}]
    groups = raw.get("zip") or []
    if not isinstance(groups, list):
        problems.append(f"{where}: 'zip' must be a list of groups (mappings of keys to lists), got {groups!r}")
        groups = []
    extra = extra_zip or []
    if not isinstance(extra, list):
        problems.append(f"{where}: a profile's 'zip' must be a list of groups (mappings of keys to lists), "
                        f"got {extra!r}")
        extra = []
    for i, group in enumerate([*groups, *extra]):
        ok = isinstance(group, dict) and group and all(isinstance(v, list) and v for v in group.values())
        lengths = {len(v) for v in group.values()} if ok else set()
        if not ok or len(lengths) != 1:
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


def _seeds(raw: dict[str, Any], base: dict[str, Any], problems: list[str], where: str) -> list[Any]:
    if "seeds" not in raw:
        return [base.get("seed", 0)]
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds:
        problems.append(f"{where}: 'seeds' must be a non-empty list of integers >= 0, got {seeds!r}")
        return [base.get("seed", 0)]
    bad = [s for s in seeds if not isinstance(s, int) or isinstance(s, bool) or s < 0]
    if bad:
        problems.append(f"{where}: 'seeds' {seeds!r} holds {bad!r}; accepted: integers >= 0")
    if len(set(map(repr, seeds))) != len(seeds):
        problems.append(f"{where}: 'seeds' {seeds!r} repeats a seed")
    return seeds


def _cases(raw: dict[str, Any], problems: list[str], where: str) -> dict[str, dict[str, Any]]:
    if "cases" not in raw:
        return {"": {}}
    cases = raw["cases"]
    if not isinstance(cases, dict) or not cases:
        problems.append(f"{where}: 'cases' must map case names to mappings of overrides (at least one case), "
                        f"got {cases!r}")
        return {"": {}}
    out = {}
    for name, case in cases.items():
        if not isinstance(name, str) or not name.strip() or "\n" in name:
            problems.append(f"{where}: case name {name!r} is not accepted; accepted: a non-empty one-line string")
            continue
        if case is not None and not isinstance(case, dict):
            problems.append(f"{where}: case {name!r} must be a mapping of keys to values, got "
                            f"{type(case).__name__} {case!r}")
            continue
        out[name] = _mapping(case, f"case {name!r}", where, problems)
    return out or {"": {}}


def _check_outputs(raw: dict[str, Any], path: Path, problems: list[str]) -> None:
    """``table:`` names a readable table spec; ``plot:`` a known kind (and needs a table)."""
    where = str(path)
    table, plot = raw.get("table"), raw.get("plot")
    if plot is not None and plot not in PLOTS:
        problems.append(f"{where}: plot={plot!r} is not accepted; accepted: {', '.join(PLOTS)} (or no plot)")
    if table is None:
        if plot is not None:
            problems.append(f"{where}: plot={plot!r} needs a 'table' spec to draw from")
        return
    if not isinstance(table, str) or not table:
        problems.append(f"{where}: table={table!r} must be the path of a table spec (results/tables/*.yaml)")
        return
    from bench import tables

    try:
        tables.load_spec(table_spec_path(table, path))
    except BenchError as e:
        problems.append(f"{where}: table={table!r}: {e}")


def table_spec_path(table: str, grid_path: Path) -> Path:
    """A grid's ``table:`` as a path: as given when it exists, else relative to the repository of the grid file."""
    spec = Path(table)
    if not spec.is_absolute() and not spec.exists():
        spec = Path(grid_path).resolve().parent.parent / table
    return spec


def expand(raw: dict[str, Any], profile: str, where: str) -> tuple[list[RunSpec], list[str]]:
    """All cells of a grid under ``profile``, and the problems found in the file's structure."""
    problems: list[str] = []
    unknown = set(raw) - TOP_KEYS
    if unknown:
        problems.append(f"{where}: unknown top-level keys {sorted(unknown, key=str)}; accepted: {sorted(TOP_KEYS)}")
    if "name" in raw:
        p = check_name(raw["name"], "grid name", where)
        if p:
            problems.append(p)
    if raw.get("description") is not None and not isinstance(raw["description"], str):
        problems.append(f"{where}: 'description' must be a string, got {raw['description']!r}")
    base = _mapping(raw.get("base"), "'base'", where, problems)
    if set(base) - BASE_KEYS:
        extra = sorted(set(base) - BASE_KEYS)
        problems.append(f"{where}: unknown keys in 'base': {extra}; accepted: {sorted(BASE_KEYS)}")
    profiles = _mapping(raw.get("profiles"), "'profiles'", where, problems)
    prof = profiles.get(profile)
    if prof is None:
        # ``name: null`` removes an included profile: it is not offered, and refusing it says so
        offered = sorted(k for k, v in profiles.items() if v is not None)
        removed = " (set to null in this grid: the profile is removed)" if profile in profiles else ""
        problems.append(f"{where}: no profile {profile!r}{removed}; profiles in this grid: {offered or 'none'}")
        prof = {}
    elif not isinstance(prof, dict):
        problems.append(f"{where}: profile {profile!r} must be a mapping, got {type(prof).__name__} {prof!r}")
        prof = {}
    elif set(prof) - PROFILE_KEYS:
        problems.append(f"{where}: unknown keys in profile {profile!r}: {sorted(set(prof) - PROFILE_KEYS, key=str)}; "
                        f"accepted: {sorted(PROFILE_KEYS)}")
    if prof.get("launcher") is not None and not isinstance(prof.get("launcher"), dict):
        problems.append(f"{where}: profile {profile!r}: 'launcher' must be a mapping, got {prof['launcher']!r}")
    for key in ("method", "protocol"):
        if not base.get(key):
            problems.append(f"{where}: 'base.{key}' is required")
    base_args = _mapping(base.get("protocol_args"), "'base.protocol_args'", where, problems)
    base_over = _mapping(base.get("overrides"), "'base.overrides'", where, problems)
    prof_args = _mapping(prof.get("protocol_args"), f"'profiles.{profile}.protocol_args'", where, problems)
    prof_over = _mapping(prof.get("overrides"), f"'profiles.{profile}.overrides'", where, problems)
    cases = _cases(raw, problems, where)
    seeds = _seeds(raw, base, problems, where)
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
                    "protocol_args": {**base_args, **prof_args},
                    "overrides": {**base_over, **prof_over},
                }
                for k, v in {**case, **axes}.items():
                    _apply(fields, k, v)
                label = case_name or ",".join(f"{k}={v}" for k, v in axes.items()) or None
                name = raw.get("name") if isinstance(raw.get("name"), str) else None
                specs.append(RunSpec(**fields, grid=name, case=label, cell=len(specs)))
    if not specs:
        problems.append(f"{where}: the grid expands to no cells")
    return specs, _unique(problems)


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))


def load(path: str | Path, profile: str | None = None, overrides: dict[str, Any] | None = None) -> Grid:
    """Load and expand a grid file under ``profile`` (structure only; ``bench.job.validate_cells`` checks the cells)."""
    from bench import settings

    path = Path(path)
    raw = read_grid(path)
    profile = profile or settings.user_config().get("profile") or DEFAULT_PROFILE
    specs, problems = expand(raw, profile, str(path))
    if not raw.get("name"):
        problems.append(f"{path}: 'name' is required")
    _check_outputs(raw, path, problems)
    executor = ((raw.get("profiles") or {}).get(profile) or {}) if isinstance(raw.get("profiles"), dict) else {}
    executor = executor.get("executor", "local") if isinstance(executor, dict) else "local"
    from bench.profiles import EXECUTORS

    if executor not in EXECUTORS:
        problems.append(f"{path}: profiles.{profile}.executor={executor!r}; accepted: {', '.join(EXECUTORS)}")
    if problems:
        raise ValidationError(problems, what=f"grid {path}")
    prof = raw["profiles"][profile]
    launcher = dict(prof.get("launcher") or {})
    if overrides:
        launcher.update(overrides)
    return Grid(raw["name"], path, profile, specs, prof.get("executor", "local"), launcher,
                raw.get("table"), raw.get("plot"), raw)


def with_command_line(grid: Grid, overrides: dict[str, Any] | None = None, protocol_args: dict[str, Any] | None = None,
                      seed: int | None = None, what: str = "the command line") -> Grid:
    """The grid with ``bench run --grid G --set K=V --arg K=V --seed N`` applied to every cell.

    A key may be set only where every cell agrees on it (the same value, or none of them sets it, counting a
    key and its dotted parents or children as one): setting a key the grid varies would turn its cases
    into copies of one run. ``--seed`` replaces the seed of a one-seed grid. Each changed cell gets the
    run id of what it now runs; refused values raise :class:`ConfigError` naming them.
    """
    overrides, protocol_args = dict(overrides or {}), dict(protocol_args or {})
    if not (overrides or protocol_args or seed is not None):
        return grid
    specs = list(grid.specs)

    def varied(field: str, key: str) -> dict[str, Any] | None:
        seen: dict[str, Any] = {}
        for s in specs:
            d = getattr(s, field)
            rel = {k: d[k] for k in d if k == key or k.startswith(key + ".") or key.startswith(k + ".")}
            seen[s.case or f"cell {s.cell}"] = rel
        values = list(seen.values())
        return None if all(v == values[0] for v in values) else seen

    flag = {"overrides": "--set", "protocol_args": "--arg"}
    for field, given in (("overrides", overrides), ("protocol_args", protocol_args)):
        for key in given:
            seen = varied(field, key)
            if seen is not None:
                shown = "; ".join(f"{case}: {rel or '(unset)'}" for case, rel in list(seen.items())[:6])
                raise ConfigError(f"{what}: {flag[field]} {key}={given[key]!r}: grid {grid.name} ({grid.path}) varies "
                                  f"{key!r} across its cells ({shown}{'; ...' if len(seen) > 6 else ''}), so setting "
                                  "it would make its cases one run; accepted: keys every cell shares (or none sets), "
                                  "or a grid file of your own")
    if seed is not None:
        seeds = sorted({s.seed for s in specs})
        if len(seeds) > 1:
            raise ConfigError(f"{what}: --seed {seed}: grid {grid.name} ({grid.path}) already runs seeds {seeds}; "
                              "accepted: --seed with a one-seed grid, or the grid's 'seeds' list")
    out = []
    for s in specs:
        ov = {k: v for k, v in s.overrides.items() if k not in overrides}
        pa = {k: v for k, v in s.protocol_args.items() if k not in protocol_args}
        out.append(dataclasses.replace(s, overrides={**ov, **overrides}, protocol_args={**pa, **protocol_args},
                                       seed=s.seed if seed is None else int(seed)))
    return dataclasses.replace(grid, specs=out)
