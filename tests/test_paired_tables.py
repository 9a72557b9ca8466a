"""The difference column of tables and ``bench compare`` (issue 23), on hand-made prediction files and records."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from bench import predictions, stats
from bench.cli import main as bench_main
from bench.errors import DataError
from bench.store import Store
from bench.tables import render

N, C = 200, 10


def _arrays(gain: int, videos: int = N) -> dict[str, dict[str, np.ndarray]]:
    """One episode: the reference set (70 % right) with ``gain`` of its wrong videos made right."""
    labels = np.arange(videos) % C
    top = np.stack([(labels + k) % C for k in range(5)], axis=1)  # right at rank 0 ...
    wrong = np.arange(videos) % 10 >= 7  # ... except 30 %: rank 1
    top[wrong] = np.stack([(labels[wrong] + k) % C for k in (1, 0, 2, 3, 4)], axis=1)
    fix = np.flatnonzero(wrong)[:gain]
    top[fix] = np.stack([(labels[fix] + k) % C for k in range(5)], axis=1)
    return {"main": {"video": np.array([f"v{i}.mp4" for i in range(videos)]), "label": labels,
                     "top5": top.astype(np.int32), "top5_scores": np.ones(top.shape, np.float16)}}


def _record(root, run_id, case, arrays, seed=0):
    ref = predictions.write(root, run_id, arrays)
    metrics = predictions.recompute(arrays)
    return {"run_id": run_id, "grid": "g", "method": "m", "variant": "", "protocol": "supervised",
            "dataset": "syn_k400", "seed": seed, "schema_version": 1, "metrics": metrics, "predictions": ref,
            "stats": predictions.intervals(arrays), "flops": {"gflops_per_view": 2.0, "views": "8x1x1"},
            "spec": {"case": case, "grid": "g", "size": "tiny"}}


@pytest.fixture
def results(tmp_path):
    store = Store(tmp_path)
    store.write(_record(tmp_path, "r01", "g01_base", _arrays(0)))
    store.write(_record(tmp_path, "r17", "g17_all", _arrays(20)))  # +10 points on 200 videos
    store.write(_record(tmp_path, "r05", "g05_one", _arrays(1)))  # +0.5 points
    store.write(_record(tmp_path, "rxx", "g09_other", _arrays(20, videos=100)))  # another test set
    return tmp_path


SPEC = """
name: diff
measured: {where: {grid: g}}
rows: {key: [case]}
reference: {where: {case: g01_base}}
columns:
  - {name: Case, field: case}
  - {name: Top-1, metric: top1}
sort: [{by: Case}]
"""


def test_table_shows_the_paired_difference_against_the_reference(results, tmp_path):
    spec = tmp_path / "diff.yaml"
    spec.write_text(SPEC)
    paths = render(spec, out=tmp_path / "out", results=results)
    md = paths["md"].read_text()
    lines = {line.split("|")[1].strip().split(" ")[0]: line for line in md.splitlines() if line.startswith("| g")}
    assert "| Δ Top-1 |" in md and "ref" in lines["g01_base"]
    assert "+10.0 [" in lines["g17_all"] and "]*" in lines["g17_all"]  # significant
    assert "+0.5 [" in lines["g05_one"] and "]*" not in lines["g05_one"]  # not
    assert "n/a" in lines["g09_other"]
    # McNemar: 20 discordant pairs, all for B: p = 2 / 2**20
    assert f"p={2 / 2 ** 20:.2g}" in lines["g17_all"]
    with open(paths["csv"]) as f:
        rows = {r["Case"]: r for r in csv.DictReader(f)}
    assert float(rows["g17_all"]["Δ Top-1"]) == pytest.approx(10.0)
    assert rows["g17_all"]["Δ Top-1 significant"] == "True" and rows["g05_one"]["Δ Top-1 significant"] == "False"
    assert float(rows["g17_all"]["Δ Top-1 low"]) > 0 >= float(rows["g05_one"]["Δ Top-1 low"])
    assert "different test sets" in rows["g09_other"]["Δ Top-1 why"]
    assert r"\toprule" in paths["tex"].read_text() and "Δ" in paths["tex"].read_text()


def test_a_reference_not_measured_is_a_footnote_and_a_malformed_one_is_refused(results, tmp_path):
    from bench.errors import ConfigError

    spec = tmp_path / "diff.yaml"
    spec.write_text(SPEC.replace("g01_base}", "g99}"))
    md = render(spec, out=tmp_path / "out", results=results)["md"].read_text()
    assert "Δ" not in md.split("- ")[0] and "reference row (reference.where {'case': 'g99'}) is not measured" in md
    spec.write_text(SPEC.replace("reference: {where: {case: g01_base}}", "reference: g01_base"))
    with pytest.raises(ConfigError, match="reference='g01_base'; expected"):
        render(spec, out=tmp_path / "out", results=results)


def test_bench_compare_prints_the_difference_and_refuses_other_test_sets(results, capsys):
    assert bench_main(["compare", "r01", "r17", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "top1" in out and "+10.00 [" in out and "McNemar exact p=" in out and "only B right: 20" in out
    assert bench_main(["compare", "r01", "rxx", "--results", str(results)]) == 2
    assert "different test sets" in capsys.readouterr().err


def test_the_same_run_compared_with_itself_differs_by_zero(results):
    rec = Store(results).read("r17")
    from bench.paired import compare_runs

    out = compare_runs(results, rec, rec)
    for m in stats.METRICS:
        assert out[m]["diff"] == 0 and out[m]["ci"][0] <= 0 <= out[m]["ci"][1] and not out[m]["significant"]
    assert out["top1"]["mcnemar_p"] == 1.0
    with pytest.raises(DataError, match="keeps no per-video predictions"):
        compare_runs(results, {**rec, "predictions": None}, rec)


def test_rows_with_several_seeds_use_the_seed_level_paired_difference(tmp_path):
    store = Store(tmp_path)
    for seed, (g0, g1) in enumerate([(0, 20), (2, 21), (4, 25)]):  # per-seed differences 10, 9.5, 10.5 points
        store.write(_record(tmp_path, f"a{seed}", "g01_base", _arrays(g0), seed=seed))
        store.write(_record(tmp_path, f"b{seed}", "g17_all", _arrays(g1), seed=seed))
    spec = tmp_path / "diff.yaml"
    spec.write_text(SPEC)
    paths = render(spec, out=tmp_path / "out", results=tmp_path)
    with open(paths["csv"]) as f:
        rows = {r["Case"]: r for r in csv.DictReader(f)}
    row = rows["g17_all"]
    assert row["Δ Top-1 test"] == "seed-level paired t" and float(row["Δ Top-1"]) == pytest.approx(10.0)
    half = 4.302652729911275 * 0.5 / 3 ** 0.5  # t(0.975, 2) * sd(10, 9.5, 10.5) / sqrt(3)
    assert float(row["Δ Top-1 low"]) == pytest.approx(10.0 - half) and row["Δ Top-1 significant"] == "True"
    assert "71.0 ± 1.0" in paths["md"].read_text()  # the reference row: 70, 71, 72 over its three seeds


def test_episode_arrays_from_a_dump_keep_scores_and_refuse_a_misaligned_list(tmp_path, monkeypatch):
    from bench import settings

    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], np.float32)
    np.savez(tmp_path / "d.npz", scores=scores, labels=np.array([1, 2]))
    ann = tmp_path / "test.txt"
    ann.write_text("# imported from the official csv\na/x.mp4 1\nb/y.mp4 2\n")
    got = predictions.episode_arrays(tmp_path / "d.npz", ann, keep_scores=True)
    assert list(got["video"]) == ["a/x.mp4", "b/y.mp4"] and got["top5"].tolist() == [[1, 2, 0], [0, 1, 2]]
    assert got["scores"].dtype == np.float16 and got["top5_scores"][0, 0] == np.float16(0.7)
    ann.write_text("a/x.mp4 1\nb/y.mp4 0\n")  # labels disagree with the dump: nothing is attributed
    with pytest.raises(DataError, match="do not match the 2 dumped predictions"):
        predictions.episode_arrays(tmp_path / "d.npz", ann)
    monkeypatch.setenv("BENCH_KEEP_SCORES", "1")
    assert settings.keep_scores()
    monkeypatch.setenv("BENCH_KEEP_SCORES", "0")
    assert not settings.keep_scores()


COLUMN_SPEC = """
name: cols
measured: {where: {grid: g}}
derive:
  encoder: {measured: {from: spec.case, regex: '^(.+?)(?: \\+ FTP)?$'}}
  with_ftp: {measured: {from: spec.case, regex: '(FTP)'}}
rows: {key: [encoder]}
reference: {columns: {"Top-1 + FTP": "Top-1"}}
columns:
  - {name: Encoder, field: encoder}
  - {name: "Top-1", metric: top1, where: {with_ftp: {not: FTP}}}
  - {name: "Top-1 + FTP", metric: top1, where: {with_ftp: FTP}}
"""


def test_a_column_reference_compares_two_columns_of_the_same_row(tmp_path):
    # wide tables (ftp Table 6: each encoder without and with FTP; bike 6i: V against Baseline V) pair two columns
    store = Store(tmp_path)
    store.write(_record(tmp_path, "a0", "enc_a", _arrays(0)))
    store.write(_record(tmp_path, "a1", "enc_a + FTP", _arrays(20)))  # +10 points on 200 videos
    store.write(_record(tmp_path, "b0", "enc_b", _arrays(4)))
    store.write(_record(tmp_path, "b1", "enc_b + FTP", _arrays(5)))  # +0.5 points
    store.write(_record(tmp_path, "c1", "enc_c + FTP", _arrays(5)))  # no column to compare with
    spec = tmp_path / "cols.yaml"
    spec.write_text(COLUMN_SPEC)
    paths = render(spec, out=tmp_path / "out", results=tmp_path)
    with open(paths["csv"]) as f:
        rows = {r["Encoder"]: r for r in csv.DictReader(f)}
    assert float(rows["enc_a"]["Δ Top-1 + FTP"]) == pytest.approx(10.0)
    assert rows["enc_a"]["Δ Top-1 + FTP significant"] == "True"
    assert float(rows["enc_b"]["Δ Top-1 + FTP"]) == pytest.approx(0.5)
    assert rows["enc_b"]["Δ Top-1 + FTP significant"] == "False"
    assert "no measured record" in rows["enc_c"]["Δ Top-1 + FTP why"]
    assert "Δ Top-1" not in csv_header_of(paths["csv"])  # only the named column gets a difference
    md = paths["md"].read_text()
    assert "Δ Top-1 + FTP = Top-1 + FTP − Top-1" in md and f"p={2 / 2 ** 20:.2g}" in md
    bad = tmp_path / "bad.yaml"
    bad.write_text(COLUMN_SPEC.replace('"Top-1 + FTP": "Top-1"', '"Top-1 + FTP": "Top-5"'))
    with pytest.raises(Exception, match=r"'Top-5' is not a measured metric column"):
        render(bad, out=tmp_path / "out", results=tmp_path)


def csv_header_of(path) -> list[str]:
    with open(path) as f:
        return next(csv.reader(f))


def test_bench_tables_finds_a_cell_that_another_grid_ran_first(tmp_path, syn_k400, capsys):
    # a cell shared by two grids has one record, labelled by whichever grid ran it first (here alt_corpus's
    # "all"); the alt_decoder table used to show its "SA+ 1D-Conv+" row as not measured
    import bench.identity  # noqa: F401
    from bench import grid as grid_mod
    from bench.cli.tables import ABLATIONS

    cell = next(s for s in grid_mod.load(ABLATIONS / "alt_decoder.yaml", "default").specs
                if s.case == "SA+ 1D-Conv+" and s.protocol == "supervised")
    rec = _record(tmp_path, cell.run_id, "all", _arrays(20))
    rec.update(grid="alt_corpus", method="alt", protocol="supervised")
    rec["spec"].update(grid="alt_corpus", case="all")
    Store(tmp_path).write(rec)
    spec = ABLATIONS.parent / "results" / "tables" / "alt_decoder.yaml"
    assert bench_main(["tables", str(spec), "--results", str(tmp_path), "--out", str(tmp_path / "out"),
                       "--print"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| SA+ 1D-Conv+"))
    assert row.split("|")[2].strip().strip("*") == "80.0"  # measured: 70 % + 20 of 200 videos right
