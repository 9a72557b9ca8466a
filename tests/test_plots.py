"""Pareto fronts on hand-made points, and the three plots rendered from tmp_path fixtures."""

from __future__ import annotations

import csv

import pytest

from bench.errors import ConfigError, DataError
from bench.plots import Point, pareto_front, plot_axis, plot_classes, plot_pareto
from bench.store import Store
from tests.test_tables import pub, record, write_published, write_spec


def P(label, x, y, origin="published"):
    return Point(label, "f", origin, x, y)


def test_front_drops_dominated_points_and_sorts_by_cost():
    pts = [P("cheap", 1, 70), P("dominated", 5, 69), P("mid", 10, 80), P("big", 100, 90), P("worse-big", 200, 85)]
    front, left_out = pareto_front(pts)
    assert [p.label for p in front] == ["cheap", "mid", "big"] and left_out == []


def test_front_ties():
    pts = [P("a", 10, 80), P("a-twin", 10, 80), P("same-cost-lower", 10, 75), P("same-acc-costlier", 20, 80)]
    front, _ = pareto_front(pts)
    assert sorted(p.label for p in front) == ["a", "a-twin"]


def test_front_single_point_and_missing_flops():
    front, left_out = pareto_front([P("only", 3, 50), P("no-flops", None, 99), P("no-value", 2, None)])
    assert [p.label for p in front] == ["only"]
    assert [p.label for p in left_out] == ["no-flops", "no-value"]


@pytest.fixture
def results(tmp_path):
    write_published(tmp_path, "p", [
        pub("A", "top1", 80.0, gflops_total=1200), pub("B", "top1", 82.0, gflops_total=600, gflops_per_view=50),
        pub("C", "top1", 85.0, gflops_total="", gflops_per_view=""),  # no FLOPs: left out and reported
        pub("FTP", "top1", 87.5, variant="group 1: none", source="t7"),
        pub("FTP", "top1", 90.0, variant="group 6: A+B", source="t7"),
        pub("FTP", "top1", 93.4, variant="group 17: A+B+C+D", source="t7"),
    ])
    store = Store(tmp_path)
    store.write(record("r1", "g01_none", 0, 60.0))
    r2 = record("r2", "g17_ABCD", 0, 70.0)
    r1 = store.read("r1")
    r1["metrics"]["per_class"] = {f"class {i}": 50.0 + i for i in range(30)}
    r2["metrics"]["per_class"] = {f"class {i}": 50.0 + (i * 7) % 30 for i in range(30)}
    store.write(r1)
    store.write(r2)
    return tmp_path


def test_pareto_plot_files_and_front_csv(results, tmp_path):
    spec = write_spec(results, """
name: k
published: {where: {source: "p Table 1"}}
measured: {where: {grid: g}}
rows: {key: [method, case]}
columns: [{name: Top-1, metric: top1}]
""")
    res = plot_pareto(spec, out=tmp_path / "fig", results=results)
    assert all(p.exists() and p.stat().st_size > 1000 for p in res["figures"])
    assert {p.suffix for p in res["figures"]} == {".png", ".pdf", ".svg"}
    with open(res["front_csv"]) as f:
        rows = list(csv.DictReader(f))
    on_front = [r["label"] for r in rows if r["on_front"] == "yes"]
    assert on_front[0].startswith("clip_meanpool") and on_front[-1].startswith("B")  # measured 4 GFLOPs is cheapest
    assert [r["label"] for r in rows if r["on_front"] == "left_out"] == ["C"]
    assert "A" not in on_front  # dominated by B
    per_view = plot_pareto(spec, per_view=True, out=tmp_path / "fig", results=results)
    assert per_view["figures"][0].name == "k_pareto_per_view.png"


def test_axis_plot_counts_prompts(results, tmp_path):
    spec = write_spec(results, r"""
name: prompts
published: {where: {source: t7}}
measured: {where: {grid: g}}
derive:
  prompts: {published: {from: variant, regex: 'group \d+: (.+)'}, measured: {from: spec.case, regex: '^g\d+_(.+)'}}
rows: {key: [prompts]}
columns: [{name: Top-1, metric: top1}]
plot: {x: {name: number of prompts, from: prompts, count_letters: ABCD}}
""")
    paths = plot_axis(spec, out=tmp_path / "fig", results=results)
    assert paths[0].name == "prompts_axis.png" and paths[0].stat().st_size > 1000
    bad = write_spec(results, "published: {where: {source: t7}}\ncolumns: [{name: T, metric: top1}]\nplot: {}\n")
    with pytest.raises(ConfigError, match="plot.x"):
        plot_axis(bad, out=tmp_path / "fig", results=results)


def test_classes_plot(results, tmp_path):
    paths = plot_classes("r1", "r2", out=tmp_path / "fig", results=results, top=3)
    assert paths[0].name == "classes_r1_vs_r2.png" and paths[0].stat().st_size > 1000
    Store(results).write(record("r3", "x", 0, 1.0))
    with pytest.raises(DataError, match="per_class"):
        plot_classes("r1", "r3", out=tmp_path / "fig", results=results)
    with pytest.raises(DataError, match="no record"):
        plot_classes("r1", "nope", out=tmp_path / "fig", results=results)


def test_cli_plot(results, tmp_path, capsys):
    from bench.cli import main

    spec = write_spec(results, "published: {where: {source: 'p Table 1'}}\ncolumns: [{name: T, metric: top1}]\n")
    assert main(["plot", "pareto", str(spec), "--results", str(results), "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "Pareto front: B" in out and "left out" in out
    assert main(["plot", "classes", "r1", "r2", "--results", str(results), "--out", str(tmp_path / "f")]) == 0


def test_front_points_whose_cis_overlap_are_marked_inseparable():
    from bench.plots import Point, inseparable

    a = Point("a", "f", "measured", 1.0, 70.0, ci=(66.0, 74.0))
    b = Point("b", "f", "measured", 2.0, 72.0, ci=(68.0, 76.0))  # overlaps a
    c = Point("c", "f", "measured", 4.0, 85.0, ci=(82.0, 88.0))  # clear of b
    d = Point("d", "f", "published", 8.0, 86.0)  # no CI: never marked
    assert inseparable([a, b, c, d]) == [True, True, False, False]
