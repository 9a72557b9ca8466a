"""Comparison tables from published paper numbers and measured records (Markdown, LaTeX, CSV).

A table spec (YAML, safe-loaded; see ``results/tables/README.md``) selects published rows
(``results/published/*.csv``, one row per method x setting x metric) and measured records
(``bench.store.Store``), brings both into one long list of entries (one value of one metric),
groups the entries into table rows by ``rows.key``, and fills each declared column. Like
lm-evaluation-harness's table renderer, the output has a fixed column order, and like the
papers it bolds the best and underlines the second-best value of a column. A missing value is
never a blank: it is "—" with a footnote. Where a protocol repeats (few-shot episodes, seeds),
the cell shows mean ± std.
"""

from __future__ import annotations

import csv
import re
import statistics
from pathlib import Path
from typing import Any

import yaml

from bench import settings
from bench.errors import ConfigError, ValidationError
from bench.table_struct import DASH, DEFAULT_FMT, Cell, Entry, Table, _as_list, _norm, _num, matches  # noqa: F401

CPU_NOT_RECORDED = "CPU not recorded"  # host.cpu of a record written before records named their CPU
PERCENT_METRICS = {"top1", "top5", "mAP", "mean_class_acc", "map"}
SPEC_KEYS = {"name", "title", "caption", "published", "measured", "derive", "rows", "columns", "sort", "plot",
             "reference"}


# Row marks for measured numbers computed another way than the default (issue 18): mark, field, value, footnote.
MARKS = (
    ("‡", "report", "best", "‡: reported at the best epoch (report: best; tested after every epoch on the test list, "
                            "the maximum reported, as X-CLIP, ViFi-CLIP and BIKE report), not the last"),
    ("§", "scoring", "frames", "§: zero-shot scored per frame (scoring: frames; BIKE's test_zeroshot.py path, "
                               "softmax per frame averaged, no video head)"),
)


# ----------------------------------------------------------------------------- loading


def load_spec(path: Path | str) -> dict[str, Any]:
    """Read and check a table spec; unknown keys and missing columns are errors."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"table spec {path} does not exist") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"table spec {path} is not valid YAML: {e}") from e
    if not isinstance(spec, dict):
        raise ConfigError(f"table spec {path} must be a mapping, got {type(spec).__name__}")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ConfigError(f"table spec {path}: unknown keys {sorted(unknown)}; accepted: {sorted(SPEC_KEYS)}")
    if "published" not in spec and "measured" not in spec:
        raise ConfigError(f"table spec {path} selects nothing: give 'published' and/or 'measured'")
    ref = spec.get("reference")
    by_row = isinstance(ref, dict) and isinstance(ref.get("where"), dict) and ref["where"] and "columns" not in ref
    by_col = (isinstance(ref, dict) and isinstance(ref.get("columns"), dict) and ref["columns"] and "where" not in ref
              and "metrics" not in ref)
    if ref is not None and (not (by_row or by_col) or set(ref) - {"where", "metrics", "columns"}):
        raise ConfigError(f"table spec {path}: reference={ref!r}; expected {{where: {{<row field>: <value>}}, "
                          f"metrics: [top1, ...] (optional)}}: the measured row the other rows are compared with, "
                          f"or {{columns: {{<column>: <column it is compared with>}}}}: a difference per row "
                          f"between two measured columns")
    for i, col in enumerate(spec.get("columns") or []):
        if not isinstance(col, dict) or "name" not in col or not ({"metric", "field"} & set(col)):
            raise ConfigError(f"table spec {path}: column {i} ({col!r}) needs 'name' and 'metric' or 'field'")
    if by_col:
        cols = {c["name"]: c for c in spec.get("columns") or []}
        measured = [n for n, c in cols.items() if "metric" in c and c.get("origin") != "published"]
        for target, base in ref["columns"].items():
            for name in (target, base):
                c = cols.get(name)
                if c is None or "metric" not in c or c.get("origin") == "published":
                    raise ConfigError(f"table spec {path}: reference.columns {target!r}: {base!r}: {name!r} is not a "
                                      f"measured metric column; measured metric columns: {measured}")
            if cols[target]["metric"] != cols[base]["metric"]:
                raise ConfigError(f"table spec {path}: reference.columns {target!r}: {base!r} compare different "
                                  f"metrics ({cols[target]['metric']} vs {cols[base]['metric']})")
    spec.setdefault("name", path.stem)
    spec["_path"] = str(path)
    return spec


def published_entries(published_dir: Path, files: list[str] | None = None) -> list[Entry]:
    """All rows of the published CSVs (or of ``files``, names without ``.csv``) as entries."""
    paths = [published_dir / f"{f}.csv" for f in files] if files else sorted(published_dir.glob("*.csv"))
    entries = []
    for p in paths:
        if not p.exists():
            raise ConfigError(f"published file {p} does not exist; available: "
                              f"{sorted(x.stem for x in published_dir.glob('*.csv'))}")
        with open(p, newline="") as f:
            for row in csv.DictReader(f):
                value = _num(row.get("value"))
                if value is None:
                    continue
                fields = {k: v for k, v in row.items() if k not in ("value", "std", "metric")}
                fields["paper"] = p.stem
                entries.append(Entry("published", fields, row["metric"], value, _num(row.get("std"))))
    return entries


def record_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """A record's descriptive fields, named like the published columns plus dotted record keys."""
    spec = rec.get("spec") or {}
    flops = rec.get("flops") or {}
    out: dict[str, Any] = {k: v for k, v in rec.items() if not isinstance(v, dict | list)}
    for prefix, d in (("spec", spec), ("flops", flops), ("spec.protocol_args", spec.get("protocol_args") or {})):
        out.update({f"{prefix}.{k}": v for k, v in d.items() if not isinstance(v, dict | list)})
    views = flops.get("views")
    frames = views.split("x")[0] if isinstance(views, str) and views.count("x") == 2 else None
    per_view = _num(flops.get("gflops_per_view"))
    total = _num(flops.get("gflops_total"))
    if total is None and per_view is not None and views:
        from bench.flops import n_views

        total = per_view * n_views(views)
    out.update(
        method=rec.get("method"), variant=rec.get("variant") or "", backbone=rec.get("backbone") or spec.get("size"),
        case=spec.get("case"), grid=rec.get("grid") or spec.get("grid"), views=views, frames=frames,
        gflops_per_view=per_view, gflops_total=total, params_m=flops.get("params_m"),
        shots=(spec.get("protocol_args") or {}).get("shots"), source=f"measured {rec.get('run_id', '')}".strip(),
    )
    host, code = rec.get("host") or {}, rec.get("code") or {}
    cpu = " / ".join(str(host[k]) for k in ("cpu", "cpu_capability") if host.get(k))
    out.update({"host.cpu": cpu or CPU_NOT_RECORDED, "code.moved": bool(code.get("code_at_end"))})
    metrics, args = rec.get("metrics") or {}, spec.get("protocol_args") or {}
    for key in ("report", "scoring"):  # how the number was computed (marked in tables, MARKS)
        value = metrics.get(key) if isinstance(metrics.get(key), str) else args.get(key)
        if value is not None:
            out[key] = value
    return out


def measured_entries(records: list[dict[str, Any]]) -> list[Entry]:
    """One entry per numeric metric of each record (``<m>_std`` becomes that entry's std)."""
    entries = []
    for rec in records:
        fields = record_fields(rec)
        metrics = rec.get("metrics") or {}
        cis = ((rec.get("stats") or {}).get("ci") or {}) if isinstance(rec.get("stats"), dict) else {}
        for k, v in metrics.items():
            if k.endswith("_std") or isinstance(v, bool) or _num(v) is None or isinstance(v, dict | list):
                continue
            ci = cis.get(k) if isinstance(cis.get(k), list | tuple) and len(cis.get(k)) == 2 else None
            entries.append(Entry("measured", fields, k, float(v), _num(metrics.get(f"{k}_std")),
                                 tuple(float(x) for x in ci) if ci else None))
    return entries


def derive(entries: list[Entry], rules: dict[str, Any]) -> None:
    """Add fields extracted by regex (first group) from another field, per origin.

    ``group: {published: {from: variant, regex: 'group (\\d+)'}, measured: {from: spec.case, regex: 'g(\\d+)_'}}``
    """
    for name, per_origin in (rules or {}).items():
        for e in entries:
            rule = per_origin.get(e.origin) if isinstance(per_origin, dict) else None
            if not rule:
                continue
            m = re.search(str(rule["regex"]), _norm(e.fields.get(rule["from"])))
            if m:
                got = m.group(1) if m.groups() else m.group(0)
                e.fields[name] = int(got) if rule.get("int") or got.isdigit() else got


# The papers' numbers ship with the code (results/published in the repository); a results tree
# elsewhere ($BENCH_RESULTS) uses them unless it has a published/ folder of its own.
PUBLISHED_DIR = Path(__file__).resolve().parents[1] / "results" / "published"


def relabel(records: list[dict[str, Any]], labels: dict[str, list[dict[str, Any]]] | None) -> list[dict[str, Any]]:
    """Records as seen from a grid: one copy per (grid, case) that uses the run.

    A run id does not depend on the grid or case that launched it, so two grids that contain the
    same cell share one record, labelled by whichever ran first. ``labels`` (run id -> the grid's
    ``{"grid", "case"}`` labels, from the grid's expansion) gives each grid its own rows.
    """
    if not labels:
        return records
    out = []
    for rec in records:
        for lab in labels.get(rec.get("run_id"), [None]):
            if lab is None:
                out.append(rec)
                continue
            spec = {**(rec.get("spec") or {}), **lab}
            out.append({**rec, **lab, "spec": spec})
    return out


def select(spec: dict[str, Any], results: Path | None = None, published_dir: Path | None = None,
           labels: dict[str, list[dict[str, Any]]] | None = None) -> list[Entry]:
    """The entries a spec selects (published + measured, relabelled for a grid), with derived fields."""
    from bench.store import Store

    root = Path(results) if results is not None else settings.results_dir()
    entries: list[Entry] = []
    pub = spec.get("published")
    if pub:
        pdir = Path(published_dir) if published_dir else (root / "published")
        if published_dir is None and not pdir.is_dir():
            pdir = PUBLISHED_DIR  # a results tree without its own published/ uses the repository's
        entries += [e for e in published_entries(pdir, pub.get("files")) if matches(e.fields, pub.get("where"),
                                                                                     e.metric)]
    meas = spec.get("measured")
    if meas:
        recs = relabel(Store(root).records(), labels)
        entries += [e for e in measured_entries(recs) if matches(e.fields, meas.get("where"), e.metric)]
    derive(entries, spec.get("derive") or {})
    if not entries:
        raise ConfigError(
            f"table spec {spec.get('_path', spec['name'])} selects nothing: published filter "
            f"{(pub or {}).get('where')} and measured filter {(meas or {}).get('where')} match no row under {root}"
        )
    return entries


# ----------------------------------------------------------------------------- building

DEFAULT_KEY = ["method", "backbone", "frames", "resolution", "views", "variant"]


def _row_groups(entries: list[Entry], key: list[str]) -> list[list[Entry]]:
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(tuple(_norm(e.fields.get(k)) for k in key), []).append(e)
    return list(groups.values())


def _metric_cell(col: dict[str, Any], row: list[Entry], notes: list[str], label: str) -> Cell:
    hits = [e for e in row if e.metric == col["metric"] and (not col.get("origin") or e.origin == col["origin"])
            and matches(e.fields, col.get("where"))]
    if not hits:
        return Cell()
    measured = [e for e in hits if e.origin == "measured"]
    if measured:  # seeds / repeats of our runs: mean, and the spread across them
        values = [e.value for e in measured]
        std = statistics.stdev(values) if len(values) > 1 else measured[0].std
        return Cell(statistics.fmean(values), std, len(values))
    first = hits[0]
    others = {e.value for e in hits} - {first.value}
    if others:
        notes.append(f"{label}, {col['name']}: papers disagree ({first.value} from {first.fields.get('source')}, "
                     f"also {sorted(others)}); the first is shown")
    return Cell(first.value, first.std, 1)


def _field_cell(col: dict[str, Any], row: list[Entry]) -> Cell:
    pool = [e for e in row if (not col.get("origin") or e.origin == col["origin"])
            and matches(e.fields, col.get("where"))]
    values = []
    for e in pool:
        v = e.fields.get(col["field"])
        if _norm(v) != "" and _norm(v) not in values:
            values.append(_norm(v))
    if not values:
        return Cell()
    if col.get("join"):
        return Cell("; ".join(values))
    f = _num(values[0])
    return Cell(f if f is not None else values[0])


def _check_units(table_cols: list[dict[str, Any]], rows: list[list[Cell]], origins: list[str], labels: list[str]):
    """Refuse a percent column where one origin looks like fractions (all in (0, 1]) and another does not."""
    problems = []
    for j, col in enumerate(table_cols):
        if col.get("metric") not in PERCENT_METRICS:
            continue
        by_origin: dict[str, list[tuple[str, float]]] = {}
        for i, row in enumerate(rows):
            if isinstance(row[j].value, float) and row[j].value != 0:
                by_origin.setdefault(origins[i], []).append((labels[i], row[j].value))
        fraction_like = {o for o, vs in by_origin.items() if all(v <= 1.0 for _, v in vs)}
        if fraction_like and len(fraction_like) < len(by_origin):
            bad = [lab for o in fraction_like for lab, _ in by_origin[o]]
            problems.append(f"column {col['name']!r}: values of rows {bad} look like fractions while others are "
                            f"percent; records and published CSVs must both give percent")
    if problems:
        raise ValidationError(problems, "table units")


def _rank(rows: list[list[Cell]], cols: list[dict[str, Any]]) -> None:
    for j, col in enumerate(cols):
        best = col.get("best", "max" if "metric" in col else None)
        if best not in ("max", "min"):
            continue
        vals = sorted({c[j].value for c in rows if isinstance(c[j].value, float)}, reverse=best == "max")
        if len(vals) < 2:
            continue
        for r in rows:
            if r[j].value == vals[0]:
                r[j].rank = 1
            elif r[j].value == vals[1]:
                r[j].rank = 2


def build_table(spec: dict[str, Any], entries: list[Entry]) -> Table:
    """Group entries into rows and fill the spec's columns; sort, rank, footnote the gaps."""
    cols = spec.get("columns") or []
    if not cols:
        raise ConfigError(f"table spec {spec['name']!r} declares no columns")
    key = (spec.get("rows") or {}).get("key") or DEFAULT_KEY
    notes: list[str] = []
    rows, origins, labels, marks, measured_of, is_ref, row_keys = [], [], [], [], [], [], []
    ref_where = (spec.get("reference") or {}).get("where")
    for group in _row_groups(entries, key):
        label = " ".join(_norm(group[0].fields.get(k)) for k in key if _norm(group[0].fields.get(k)))
        cells = [_metric_cell(c, group, notes, label) if "metric" in c else _field_cell(c, group) for c in cols]
        if all(c.value is None for c, col in zip(cells, cols) if "metric" in col) and any("metric" in c for c in cols):
            continue  # this row has none of the table's metrics
        kinds = {e.origin for e in group}
        marks.append("".join(m for m, k, v, _ in MARKS
                             if any(e.origin == "measured" and e.fields.get(k) == v for e in group)))
        rows.append(cells)
        origins.append("both" if len(kinds) > 1 else kinds.pop())
        labels.append(label)
        measured = [e for e in group if e.origin == "measured"]
        measured_of.append(measured)
        row_keys.append({k: _norm(group[0].fields.get(k)) for k in key})
        is_ref.append(bool(ref_where) and bool(measured) and all(matches(e.fields, ref_where) for e in measured))
    if not rows:
        raise ConfigError(f"table spec {spec['name']!r}: no selected row has any of the metrics "
                          f"{[c['metric'] for c in cols if 'metric' in c]}; metrics present: "
                          f"{sorted({e.metric for e in entries})}")
    _check_units(cols, rows, origins, labels)
    for s in reversed(_as_list(spec.get("sort") or [])):
        names = [c["name"] for c in cols]
        if s.get("by") not in names:
            raise ConfigError(f"table spec {spec['name']!r}: sort by {s.get('by')!r} is not a column; columns: {names}")
        j, desc = names.index(s["by"]), s.get("order", "asc") == "desc"
        order = sorted(range(len(rows)), key=lambda i: _sort_key(rows[i][j].value, desc))
        rows, origins, marks = [rows[i] for i in order], [origins[i] for i in order], [marks[i] for i in order]
        measured_of, is_ref = [measured_of[i] for i in order], [is_ref[i] for i in order]
        row_keys = [row_keys[i] for i in order]
        labels = [labels[i] for i in order]
    _rank(rows, cols)
    references = [i for i, r in enumerate(is_ref) if r]
    if ref_where and not references and any(measured_of):
        notes.append(f"no Δ column: the reference row (reference.where {ref_where}) is not measured (yet)")
    if any(c.value is None for r in rows for c in r):
        notes.insert(0, f"{DASH}: not reported by the paper, or not measured (yet) by this harness")
    if any(o != "published" for o in origins):
        notes.insert(0, "†: measured by this harness (mean ± std over seeds/episodes where repeated); "
                        "other rows are the papers' published numbers")
    notes += _provenance_notes(measured_of, labels)
    for m, _, _, note in reversed(MARKS):
        if any(m in x for x in marks):
            notes.insert(0, note)
    return Table(spec["name"], spec.get("title", spec["name"]), cols, rows, origins, notes, marks, measured_of,
                 row_keys, references)


def _provenance_notes(measured_of: list[list[Entry]], labels: list[str]) -> list[str]:
    """Footnotes for measured rows a reader would otherwise compare as like with like: rows whose records come
    from different CPUs (a CPU run's floats depend on it, so a Δ between them carries that too) and records
    whose checkout moved while they trained (``code.code_at_end``)."""
    notes = []
    cpus: dict[str, list[str]] = {}
    for label, entries in zip(labels, measured_of, strict=True):
        for cpu in sorted({e.fields.get("host.cpu", CPU_NOT_RECORDED) for e in entries}):
            cpus.setdefault(cpu, []).append(label or "(row)")
    if len(cpus) > 1:
        notes.append("measured on more than one CPU, so a difference between these rows also holds the CPUs' "
                     "rounding: " + "; ".join(f"{cpu}: {', '.join(rows)}" for cpu, rows in sorted(cpus.items())))
    moved = sorted({str(e.fields.get("run_id")) for entries in measured_of for e in entries
                    if e.fields.get("code.moved")})
    if moved:
        notes.append("the checkout changed while these runs trained (record code.code_at_end): " + ", ".join(moved))
    return notes


def _sort_key(v: Any, desc: bool) -> tuple:
    if v is None:
        return (1, 0, "")
    if isinstance(v, float):
        return (0, -v if desc else v, "")
    return (0, 0, str(v))


def render(spec_path: Path | str, out: Path | str | None = None, results: Path | None = None,
           published_dir: Path | None = None, labels: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Path]:
    """Build the table of a spec and write ``<name>.md``, ``.tex`` and ``.csv``; return the paths."""
    from bench.table_render import to_latex, to_markdown, write_csv

    spec = load_spec(spec_path)
    table = build_table(spec, select(spec, results, published_dir, labels))
    root = Path(results) if results is not None else settings.results_dir()
    if table.references or (spec.get("reference") or {}).get("columns"):
        from bench.paired import add_differences

        add_differences(table, spec, root)
    out_dir = Path(out) if out else root / "tables" / "generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{table.name}.{ext}" for ext in ("md", "tex", "csv")}
    paths["md"].write_text(to_markdown(table))
    paths["tex"].write_text(to_latex(table))
    write_csv(table, paths["csv"])
    return paths
