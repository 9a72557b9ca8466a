"""Comparison tables on small hand-made published CSVs and records (tmp_path)."""

from __future__ import annotations

import csv

import pytest

from bench.errors import ConfigError, ValidationError
from bench.store import Store
from bench.tables import build_table, load_spec, render, select

COLUMNS = ["method", "backbone", "pretrain", "frames", "resolution", "views", "gflops_per_view", "gflops_total",
           "params_m", "dataset", "protocol", "shots", "metric", "value", "std", "source", "variant", "notes"]


def write_published(root, name, rows):
    (root / "published").mkdir(parents=True, exist_ok=True)
    with open(root / "published" / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})


def pub(method, metric, value, **kw):
    base = dict(method=method, backbone="ViT-B/16", frames=8, views="4x3", gflops_per_view=100, gflops_total=1200,
                params_m=90, dataset="k400", protocol="supervised", source="p Table 1")
    return {**base, **kw, "metric": metric, "value": value}


def record(run_id, case, seed, top1, grid="g", **metrics):
    return {"run_id": run_id, "grid": grid, "method": "clip_meanpool", "variant": "", "protocol": "supervised",
            "dataset": "syn_k400", "seed": seed, "schema_version": 1,
            "metrics": {"top1": top1, **metrics},
            "flops": {"gflops_per_view": 2.0, "views": "8x1x2", "params_m": 5.0},
            "spec": {"case": case, "grid": grid, "size": "tiny"}}


@pytest.fixture
def results(tmp_path):
    write_published(tmp_path, "p", [
        pub("A", "top1", 80.0), pub("A", "top5", 95.0),
        pub("B", "top1", 82.0), pub("B", "top5", 94.0),
        pub("C", "top1", 82.0),  # ties B on top-1, no top-5
        pub("A", "top1", 70.0, dataset="ssv2"),
    ])
    store = Store(tmp_path)
    store.write(record("r1", "g01_none", 0, 60.0, top5=90.0))
    store.write(record("r2", "g01_none", 1, 64.0, top5=92.0))
    store.write(record("r3", "g17_ABCD", 0, 70.0, top1_std=1.5))
    return tmp_path


def write_spec(tmp_path, text):
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    return p


MAIN = """
name: main
published: {where: {dataset: k400}}
measured: {where: {grid: g}}
rows: {key: [method, case]}
columns:
  - {name: Method, field: method}
  - {name: Case, field: case}
  - {name: GFLOPs, field: gflops_total, best: min}
  - {name: Top-1, metric: top1}
  - {name: Top-5, metric: top5}
sort: [{by: Top-1, order: desc}]
"""


def test_table_bold_ties_mean_std_and_marks(results):
    spec = load_spec(write_spec(results, MAIN))
    t = build_table(spec, select(spec, results))
    names = [r[0].value for r in t.rows]
    assert names[:2] == ["B", "C"] and t.origins[:2] == ["published", "published"]
    top1 = [r[3] for r in t.rows]
    assert [c.rank for c in top1[:3]] == [1, 1, 2]  # tie on the best: both bold; then A (80) underlined
    seeds = next(r for r in t.rows if r[1].value == "g01_none")
    assert seeds[3].value == pytest.approx(62.0) and seeds[3].std == pytest.approx(2.8284, rel=1e-3)
    assert seeds[3].n == 2
    single = next(r for r in t.rows if r[1].value == "g17_ABCD")
    assert single[3].std == 1.5 and single[4].value is None  # record without top5: a marked gap
    assert single[2].value == pytest.approx(4.0)  # gflops_total = per view x 2 views


def test_render_writes_md_tex_csv_with_fixed_columns(results, tmp_path):
    paths = render(write_spec(results, MAIN), out=tmp_path / "out", results=results)
    md = paths["md"].read_text()
    assert "**82.0**" in md and "<u>80.0</u>" in md and "62.0 ± 2.8" in md
    assert "—" in md and "—: not reported" in md and "†" in md
    tex = paths["tex"].read_text()
    assert r"\toprule" in tex and r"\textbf{82.0}" in tex and r"\underline{80.0}" in tex and r"$\pm$" in tex
    with open(paths["csv"]) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["origin", "Method", "Case", "GFLOPs", "Top-1", "Top-1 std", "Top-5", "Top-5 std"]
    assert len(rows) == 1 + 5


def test_published_only_table_reproduces_the_paper(results):
    spec = load_spec(write_spec(results, """
published: {where: {source: "p Table 1", dataset: k400}}
rows: {key: [method]}
columns: [{name: Method, field: method}, {name: Top-1, metric: top1}, {name: Top-5, metric: top5}]
"""))
    t = build_table(spec, select(spec, results))
    assert [(r[0].value, r[1].value, r[2].value) for r in t.rows] == [("A", 80.0, 95.0), ("B", 82.0, 94.0),
                                                                      ("C", 82.0, None)]
    assert set(t.origins) == {"published"}


def test_derived_group_joins_paper_and_ours(results):
    write_published(results, "ftp", [pub("FTP", "top1", 87.5, variant="group 1: none", source="ftp Table 7"),
                                     pub("FTP", "top1", 93.4, variant="group 17: A+B+C+D", source="ftp Table 7")])
    spec = load_spec(write_spec(results, r"""
published: {files: [ftp]}
measured: {where: {grid: g}}
derive:
  group: {published: {from: variant, regex: 'group (\d+)'}, measured: {from: spec.case, regex: '^g(\d+)_'}}
rows: {key: [group]}
columns:
  - {name: Group, field: group, fmt: d}
  - {name: Ours, metric: top1, origin: measured}
  - {name: Paper, metric: top1, origin: published}
"""))
    t = build_table(spec, select(spec, results))
    assert [(r[0].value, r[1].value, r[2].value) for r in t.rows] == [(1, 62.0, 87.5), (17, 70.0, 93.4)]
    assert t.origins == ["both", "both"]


def test_spec_that_selects_nothing_is_a_clear_error(results):
    spec = load_spec(write_spec(results, "measured: {where: {grid: nope}}\ncolumns: [{name: T, metric: top1}]\n"))
    with pytest.raises(ConfigError, match="selects nothing.*nope"):
        select(spec, results)
    spec = load_spec(write_spec(results, "measured: {where: {grid: g}}\ncolumns: [{name: m, metric: mAP}]\n"))
    with pytest.raises(ConfigError, match="metrics present"):
        build_table(spec, select(spec, results))
    with pytest.raises(ConfigError, match="unknown keys"):
        load_spec(write_spec(results, "measured: {}\ncolums: []\n"))


def test_mixed_units_are_refused(results):
    Store(results).write(record("r9", "g02_A", 0, 0.65))  # a fraction among percents
    spec = load_spec(write_spec(results, """
published: {where: {dataset: k400}}
measured: {where: {grid: g, spec.case: g02_A}}
rows: {key: [method, case]}
columns: [{name: Top-1, metric: top1}]
"""))
    with pytest.raises(ValidationError, match="fractions"):
        build_table(spec, select(spec, results))


def test_cli_tables(results, tmp_path, capsys):
    from bench.cli import main

    spec = write_spec(results, MAIN)
    assert main(["tables", str(spec), "--results", str(results), "--out", str(tmp_path / "o"), "--print"]) == 0
    assert "| Method |" in capsys.readouterr().out
    assert main(["tables", str(tmp_path / "missing.yaml"), "--results", str(results)]) == 2


@pytest.mark.parametrize("name", ["k400_main", "alt_k400", "bike_k400", "ftp_k400", "vlc_main", "ftp_prompts",
                                  "alt_zeroshot_splits"])
def test_shipped_specs_render_from_the_published_csvs(name, tmp_path):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    if not (repo / "results" / "published" / "ftp.csv").exists():
        pytest.skip("results/published/*.csv not generated in this checkout")
    paths = render(repo / "results" / "tables" / f"{name}.yaml", out=tmp_path, results=repo / "results")
    assert paths["md"].read_text().count("\n| ") >= 3


def test_shared_records_are_relabelled_per_grid():
    """A record shared by two grids appears in each grid's table under that grid's case name."""
    from bench.tables import relabel

    rec = {"run_id": "r1", "grid": "first", "case": "a", "spec": {"grid": "first", "case": "a", "seed": 0}}
    labels = {"r1": [{"grid": "second", "case": "full model"}, {"grid": "second", "case": "same cell again"}]}
    out = relabel([rec, {"run_id": "r2", "grid": "other", "spec": {}}], labels)
    seen = [(r["grid"], r["spec"]["case"]) for r in out[:2]]
    assert seen == [("second", "full model"), ("second", "same cell again")]
    assert out[2]["run_id"] == "r2" and out[2]["grid"] == "other"
    assert rec["grid"] == "first", "the stored record is not modified"


def test_rows_from_different_cpus_or_a_moved_checkout_get_a_footnote(tmp_path):
    """Records name their CPU (host.cpu, host.cpu_capability) and a checkout that moved during the run
    (code.code_at_end); a table whose measured rows mix CPUs, or hold such a record, says so under it."""
    store = Store(tmp_path)
    amd = {"cpu": "AMD EPYC", "cpu_capability": "AVX512"}
    store.write({**record("r1", "g01_none", 0, 60.0), "host": amd, "code": {"git_sha": "a" * 40, "dirty": False}})
    store.write({**record("r3", "g17_ABCD", 0, 70.0), "host": amd})
    spec = load_spec(write_spec(tmp_path, MAIN.replace("published: {where: {dataset: k400}}\n", "")))
    assert not [n for n in build_table(spec, select(spec, tmp_path)).footnotes if "CPU" in n or "checkout" in n]

    store.write({**record("r3", "g17_ABCD", 0, 70.0), "host": {"cpu": "Intel Xeon", "cpu_capability": "AVX512"},
                 "code": {"git_sha": "a" * 40, "dirty": False, "code_at_end": {"git_sha": "b" * 40, "dirty": False}}})
    notes = build_table(spec, select(spec, tmp_path)).footnotes
    cpu = [n for n in notes if "more than one CPU" in n]
    assert len(cpu) == 1 and "AMD EPYC / AVX512: clip_meanpool g01_none" in cpu[0]
    assert "Intel Xeon / AVX512: clip_meanpool g17_ABCD" in cpu[0]
    assert [n for n in notes if "checkout changed" in n] == [
        "the checkout changed while these runs trained (record code.code_at_end): r3"]
    md = render(write_spec(tmp_path, MAIN.replace("published: {where: {dataset: k400}}\n", "")),
                out=tmp_path / "out", results=tmp_path)["md"].read_text()
    assert "more than one CPU" in md and "code.code_at_end" in md
