"""Paired comparisons of measured runs: ``bench compare`` and the difference column of tables (issue 23).

Two single runs are compared over the same test videos (their prediction files' test sets must be the
same, by sha256 of video ids and labels): the difference B - A of each headline metric with its paired
bootstrap 95 % CI, and for top-1 McNemar's exact test (``bench.stats``). Two rows measured with several
seeds are compared seed by seed (the seeds both have): the mean of the per-seed differences, its t interval
and the paired t-test. Anything else is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import predictions, stats
from bench.errors import DataError


def _arrays(root: Path, rec: dict[str, Any]):
    return predictions.load(root, rec)


def same_test_set(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two records cannot be paired (None when they can)."""
    pa, pb = a.get("predictions"), b.get("predictions")
    for rec, p in ((a, pa), (b, pb)):
        if not p:
            return (f"run {rec.get('run_id')} keeps no per-video predictions "
                    f"({(rec.get('stats') or {}).get('why') or 'a record of an earlier harness version'})")
    if pa["test_set"] != pb["test_set"]:
        return (f"runs {a.get('run_id')} and {b.get('run_id')} were tested on different test sets "
                f"({pa['num_videos']} videos in episodes {pa['episodes']} vs {pb['num_videos']} in {pb['episodes']}; "
                f"test-set sha256 {pa['test_set'][:12]}... vs {pb['test_set'][:12]}...)")
    return None


def compare_runs(root: Path, a: dict[str, Any], b: dict[str, Any],
                 metrics: tuple[str, ...] = stats.METRICS) -> dict[str, dict[str, Any]]:
    """Per metric: ``diff`` (B - A, points), ``ci``, ``significant`` and, for top-1, ``mcnemar_p``."""
    why = same_test_set(a, b)
    if why:
        raise DataError(f"cannot compare: {why}")
    xa, xb = _arrays(root, a), _arrays(root, b)
    if predictions.ava(xa):
        raise DataError(f"cannot compare runs {a.get('run_id')} and {b.get('run_id')}: "
                        f"not paired ({predictions.AVA_NO_PAIRED})")
    if predictions.multilabel(xa):  # Charades: mAP over the same videos
        ma = [(xa[e]["scores"], xa[e]["labels_multi"]) for e in xa]
        mb = [(xb[e]["scores"], xb[e]["labels_multi"]) for e in xa]
        return {"mAP": {**stats.paired_bootstrap_map(ma, mb), "kind": "paired bootstrap"}}
    ea, eb = predictions.pairs(xa), predictions.pairs({e: xb[e] for e in xa})
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        out[m] = stats.paired_bootstrap(ea, eb, m)
        out[m]["kind"] = "paired bootstrap"
    if "top1" in out:
        ca = [c for lab, top in ea for c in stats.correct_topk(lab, top, 1)]
        cb = [c for lab, top in eb for c in stats.correct_topk(lab, top, 1)]
        out["top1"]["mcnemar"] = stats.mcnemar_exact(ca, cb)
        out["top1"]["mcnemar_p"] = out["top1"]["mcnemar"]["p"]
    return out


def compare_rows(root: Path, ref: list[dict[str, Any]], row: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The difference of a table row against the reference row (records of each); ``why`` when there is none."""
    if not ref or not row:
        return {"why": "no measured record"}
    if len(ref) == 1 and len(row) == 1:
        why = same_test_set(ref[0], row[0])
        if why:
            return {"why": why}
        if ref[0].get("protocol") == "ava":
            return {"why": predictions.AVA_NO_PAIRED}
        return compare_runs(root, ref[0], row[0], (metric,))[metric]
    by_seed_a = {r.get("seed"): r for r in ref}
    by_seed_b = {r.get("seed"): r for r in row}
    seeds = sorted(set(by_seed_a) & set(by_seed_b), key=str)
    if len(seeds) < 2:
        return {"why": f"rows with several records share {len(seeds)} seed(s) ({seeds}); a seed-level paired "
                       f"difference needs two or more"}
    va = [float(by_seed_a[s]["metrics"][metric]) for s in seeds]
    vb = [float(by_seed_b[s]["metrics"][metric]) for s in seeds]
    return {**stats.seed_paired(va, vb), "kind": "seed-level paired t"}


def diff_columns(table, spec: dict[str, Any]) -> list[str]:
    """The names of the metric columns that get a difference column (spec ``reference.metrics``, default: every
    top1 / top5 / mean_class_acc column that is not ``origin: published``)."""
    ref = spec.get("reference") or {}
    wanted = ref.get("metrics")
    cols = [c for c in table.columns if "metric" in c and c.get("origin") != "published"]
    if wanted is None:
        return [c["name"] for c in cols if c["metric"] in stats.METRICS]
    unknown = [m for m in _list(wanted) if m not in stats.METRICS]
    if unknown:
        raise DataError(f"table spec {spec['name']!r}: reference.metrics {unknown} have no paired test; accepted: "
                        f"{list(stats.METRICS)}")
    return [c["name"] for c in cols if c["metric"] in _list(wanted)]


def _list(v) -> list:
    return list(v) if isinstance(v, list | tuple) else [v]


def column_runs(col: dict[str, Any], entries) -> list[str]:
    """The run ids of a row's measured entries that fill ``col`` (its metric and ``where``)."""
    from bench.table_struct import matches

    hits = [e for e in entries if e.metric == col["metric"] and matches(e.fields, col.get("where"))]
    return list(dict.fromkeys(str(e.fields["run_id"]) for e in hits if e.fields.get("run_id")))


def _against_reference(root: Path, table, i: int, col: dict[str, Any], records, ids: list[str],
                       ref_fields: set[str]) -> dict[str, Any]:
    """Row ``i``'s difference against its reference row: the one that agrees with it on every row-key field the
    reference filter does not name (e.g. the same backbone) and whose records of this column were tested on the
    same dataset (a table with default and paper runs has a reference row per dataset)."""
    recs = records(ids)
    datasets = {r.get("dataset") for r in recs}
    same = {k: v for k, v in table.row_keys[i].items() if k not in ref_fields}
    refs = [records(column_runs(col, table.measured[j])) for j in table.references
            if all(table.row_keys[j].get(k) == v for k, v in same.items())]
    refs = [rr for rr in refs if rr and {r.get("dataset") for r in rr} == datasets]
    if len(refs) != 1:
        return {"why": f"{len(refs)} reference rows share this row's {same or 'key'} and have records of this "
                       f"column on dataset(s) {sorted(datasets)}; a difference needs exactly one"}
    return compare_rows(root, refs[0], recs, col["metric"])


# the footnote's account of the tests, shared by row and column references
_TESTS = ("a paired bootstrap over the same test videos (1000 resamples; mean class accuracy stratified by class), or "
          "for {what} measured with several seeds the seed-level paired t interval; *: the CI excludes 0; p: McNemar's "
          "exact test of top-1; n/a: no paired difference (the reason is in the CSV); published rows have none")


def add_differences(table, spec: dict[str, Any], root: Path) -> None:
    """Fill ``table.diffs``: per row, per difference column, the paired difference against the reference row's
    records of the same column (``{"reference": True}`` for the reference itself, ``{}`` for a row without
    measured records, e.g. a published one)."""
    from bench.store import Store

    store = Store(root)
    cols = {c["name"]: c for c in table.columns}
    names = diff_columns(table, spec)
    cache: dict[str, dict[str, Any]] = {}

    def records(ids: list[str]) -> list[dict[str, Any]]:
        for rid in ids:
            if rid not in cache:
                cache[rid] = store.read(rid)
        return [cache[r] for r in ids]

    pairs = (spec.get("reference") or {}).get("columns")
    if pairs:
        _add_column_differences(table, pairs, cols, records, root)
        return
    ref_fields = set((spec.get("reference") or {}).get("where") or {})
    table.diffs = []
    for i, entries in enumerate(table.measured):
        row: dict[str, dict[str, Any]] = {}
        for name in names:
            ids = column_runs(cols[name], entries)
            if not ids:
                row[name] = {}  # a published row, or none measured in this column
            elif i in table.references:
                row[name] = {"reference": True}
            else:
                row[name] = _against_reference(root, table, i, cols[name], records, ids, ref_fields)
        table.diffs.append(row)
    table.footnotes.append(
        "Δ: difference to the reference row (ref) in points, with its 95 % CI [low, high]: "
        + _TESTS.format(what="rows"))


def _add_column_differences(table, pairs: dict[str, str], cols: dict[str, dict[str, Any]], records,
                            root: Path) -> None:
    """``reference: {columns: {B: A}}``: per row, column B minus column A of the same row (e.g. with and without
    FTP on one encoder), paired over the same test videos like a row difference."""
    table.diffs = []
    for entries in table.measured:
        row: dict[str, dict[str, Any]] = {}
        for target, base in pairs.items():
            ids_t, ids_b = column_runs(cols[target], entries), column_runs(cols[base], entries)
            if not ids_t:
                row[target] = {}
            elif not ids_b:
                row[target] = {"why": f"column {base!r} has no measured record in this row"}
            else:
                row[target] = compare_rows(root, records(ids_b), records(ids_t), cols[target]["metric"])
        table.diffs.append(row)
    shown = "; ".join(f"Δ {t} = {t} − {b}" for t, b in pairs.items())
    table.footnotes.append(
        f"Δ: difference between two columns of the same row, in points ({shown}), with its 95 % CI [low, high]: "
        + _TESTS.format(what="cells"))
