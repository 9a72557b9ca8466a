"""Checks of results/published/*.csv: the papers' numbers that tables and plots compare against.

The schema checks guard the contract with bench/tables.py (exact column order, units, allowed
protocols); the anchor checks compare cells with numbers read in the paper text, and the
cross-table checks compare cells that the papers print twice, so that a typo in one
transcription fails here.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PUBLISHED = Path(__file__).resolve().parents[2] / "results" / "published"
PAPERS = ("alt", "bike", "ftp", "vlc")
COLUMNS = [
    "method", "backbone", "pretrain", "frames", "resolution", "views", "gflops_per_view", "gflops_total",
    "params_m", "dataset", "protocol", "shots", "metric", "value", "std", "source", "variant", "notes",
]
INT_COLUMNS = ("frames", "resolution", "shots")
FLOAT_COLUMNS = ("gflops_per_view", "gflops_total", "params_m", "value", "std")
PROTOCOLS = {"supervised", "fewshot", "zeroshot_half", "zeroshot_full", "zeroshot_k600", "ava", "linear_probe"}
PERCENT_METRICS = {"top1", "top5", "mAP", "mean_class_acc"}
DATASETS = {"k400", "k600", "ucf101", "hmdb51", "ssv2", "ava", "activitynet", "charades"}
# Tables each CSV must cover (the brief of issue 11); a source may carry a suffix like "(Table 3)".
EXPECTED_SOURCES = {
    "alt": [f"alt Table {n}" for n in ("1", "2", "3", "4", "5", "6", "7", "8", "C1", "C2", "C3", "C4")],
    "bike": ["bike Table 1", "bike Table 5", "bike Table A.3", "bike text Sec. 3.2"]
    + [f"bike Table 6({s})" for s in "abcdefgi"],
    "ftp": [f"ftp Table {n}" for n in ("1", "2", "3", "4", "5", "6", "7", "B4", "C5")],
    "vlc": ["vlc Table 2(a)", "vlc Table 2(b)", "vlc text Sec. 4.3 (Table 3)", "vlc text Sec. 4.3 (gate ablation)",
            "vlc text Sec. A.1 (Table 5)"],
}


def load(paper: str) -> pd.DataFrame:
    """Read a CSV as strings, so that empty cells stay empty and the paper's digits stay as printed."""
    return pd.read_csv(PUBLISHED / f"{paper}.csv", dtype=str, keep_default_na=False)


def numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats, NaN where empty."""
    return pd.to_numeric(frame[column].replace("", float("nan")))


def one(frame: pd.DataFrame, **where: str) -> pd.Series:
    """The single row matching all ``column=value`` conditions."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    matches = frame[mask]
    assert len(matches) == 1, f"{where} matched {len(matches)} rows"
    return matches.iloc[0]


@pytest.fixture(scope="module", params=PAPERS)
def paper_frame(request: pytest.FixtureRequest) -> tuple[str, pd.DataFrame]:
    return request.param, load(request.param)


def test_column_order_is_exact(paper_frame: tuple[str, pd.DataFrame]) -> None:
    paper, frame = paper_frame
    header = (PUBLISHED / f"{paper}.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == COLUMNS
    assert len(frame) > 0


def test_numeric_columns_parse_or_are_empty(paper_frame: tuple[str, pd.DataFrame]) -> None:
    _, frame = paper_frame
    for column in INT_COLUMNS + FLOAT_COLUMNS:
        cells = frame[column][frame[column] != ""]
        parsed = pd.to_numeric(cells, errors="coerce")
        assert not parsed.isna().any(), f"{column}: not numbers: {cells[parsed.isna()].tolist()}"
        if column in INT_COLUMNS:
            assert cells.str.fullmatch(r"\d+").all(), f"{column}: not integers: {cells.tolist()}"
    assert (frame["value"] != "").all(), "every row must carry a value"


def test_percent_values_and_metrics(paper_frame: tuple[str, pd.DataFrame]) -> None:
    _, frame = paper_frame
    assert set(frame["metric"]) <= PERCENT_METRICS
    values = numeric(frame, "value")
    assert values.between(0, 100).all(), frame.loc[~values.between(0, 100), ["method", "value"]]
    stds = numeric(frame, "std").dropna()
    assert (stds > 0).all() and (stds < 10).all()


def test_gflops_total_matches_per_view_times_views(paper_frame: tuple[str, pd.DataFrame]) -> None:
    _, frame = paper_frame
    assert frame["views"].str.fullmatch(r"(\d+x\d+)?").all()
    both = frame[(frame["gflops_per_view"] != "") & (frame["gflops_total"] != "") & (frame["views"] != "")]
    for _, row in both.iterrows():
        product = math.prod(int(v) for v in row["views"].split("x"))
        expected = float(row["gflops_per_view"]) * product
        assert float(row["gflops_total"]) == pytest.approx(expected, rel=0.03), row.to_dict()
    assert (numeric(frame, "gflops_per_view").dropna() > 0).all()


def test_protocols_datasets_and_shots(paper_frame: tuple[str, pd.DataFrame]) -> None:
    _, frame = paper_frame
    assert set(frame["protocol"]) <= PROTOCOLS
    assert set(frame["dataset"]) <= DATASETS
    fewshot = frame["protocol"] == "fewshot"
    assert (frame.loc[fewshot, "shots"].isin(["2", "4", "8", "16"])).all()
    assert (frame.loc[~fewshot, "shots"] == "").all()
    assert (frame.loc[frame["protocol"] == "ava", "dataset"] == "ava").all()


def test_sources_name_the_paper_and_cover_its_tables(paper_frame: tuple[str, pd.DataFrame]) -> None:
    paper, frame = paper_frame
    assert frame["source"].str.startswith(f"{paper} ").all()
    present = set(frame["source"])
    missing = [s for s in EXPECTED_SOURCES[paper] if s not in present]
    assert not missing, f"{paper}.csv lacks rows from {missing}"


def test_no_duplicate_rows_or_settings(paper_frame: tuple[str, pd.DataFrame]) -> None:
    _, frame = paper_frame
    assert not frame.duplicated().any()
    setting = [c for c in COLUMNS if c not in ("value", "std", "notes")]
    dup = frame[frame.duplicated(setting, keep=False)]
    assert dup.empty, f"same setting recorded twice:\n{dup[setting + ['value']]}"


def test_csvs_are_in_sync_with_the_transcriptions(tmp_path: Path) -> None:
    """Rebuilding from results/published/_*.py must reproduce the committed CSVs byte for byte."""
    subprocess.run([sys.executable, str(PUBLISHED / "build.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    for paper in PAPERS:
        committed = (PUBLISHED / f"{paper}.csv").read_text(encoding="utf-8")
        assert (tmp_path / f"{paper}.csv").read_text(encoding="utf-8") == committed, f"{paper}.csv is stale"


def test_anchor_alt_token_merging_tradeoff() -> None:
    """alt Table 8: ALT-B/16, 8 frames, single view: r=0/4/8/13 -> 141/129/110/86 GFLOPs."""
    frame = load("alt")
    expected = {"0": ("141", "82.6"), "4": ("129", "82.4"), "8": ("110", "82.4"), "13": ("86", "81.9")}
    for r, (gflops, top1) in expected.items():
        row = one(frame, source="alt Table 8", variant=f"r={r}")
        assert (row["method"], row["backbone"], row["frames"]) == ("ALT", "ViT-B/16", "8")
        assert (row["gflops_per_view"], row["value"]) == (gflops, top1)
    # Table 1's 330 GFLOPs over 3 views is the default r=8 model of Table 8.
    t1 = one(frame, source="alt Table 1", backbone="ViT-B/16", frames="8", metric="top1")
    assert (t1["gflops_total"], t1["views"], t1["gflops_per_view"], t1["value"]) == ("330", "1x3", "110", "83.6")


def test_anchor_ftp_and_uniformerv2_kinetics400() -> None:
    """ftp Table 1: FTP-UniFormerV2-B/16 8x224 2.2 TFLOPs / 4x3, 136M; UniFormerV2-B/16 1.8 TFLOPs / 4x3, 115M."""
    frame = load("ftp")
    ftp = one(frame, source="ftp Table 1", method="FTP-UniFormerV2", backbone="ViT-B/16", metric="top1")
    assert (ftp["frames"], ftp["resolution"], ftp["views"]) == ("8", "224", "4x3")
    assert (float(ftp["gflops_total"]), ftp["params_m"], ftp["value"]) == (2200.0, "136", "91.9")
    assert float(ftp["gflops_per_view"]) == pytest.approx(2200 / 12, abs=1e-3)
    uni = one(frame, source="ftp Table 1", method="UniFormerV2", backbone="ViT-B/16", metric="top1")
    assert (uni["frames"], uni["resolution"], uni["views"]) == ("8", "224", "4x3")
    assert (float(uni["gflops_total"]), uni["params_m"], uni["value"]) == (1800.0, "115", "85.6")


def test_anchor_vlc_ablations_from_text() -> None:
    """vlc Sec. 4.3 (UCF-101, 8 frames) and A.1 (K400, 16 frames)."""
    frame = load("vlc")
    ucf = {"L_ce": "95.37", "L_text": "95.82", "L_ce+L_text": "96.56", "L_ce+L_text+L_image": "96.93"}
    for variant, value in ucf.items():
        assert one(frame, source="vlc text Sec. 4.3 (Table 3)", variant=variant)["value"] == value
    gates = {"identity": "96.56", "cross-attention": "96.80", "self-attention": "96.93"}
    for gate, value in gates.items():
        row = one(frame, source="vlc text Sec. 4.3 (gate ablation)", variant=f"L_ce+L_text+L_image, gate={gate}")
        assert (row["value"], row["frames"], row["dataset"]) == (value, "8", "ucf101")
    k400 = {"L_ce": "84.82", "L_ce+L_text": "85.97", "L_ce+L_text+L_image": "86.30"}
    for variant, value in k400.items():
        row = one(frame, source="vlc text Sec. A.1 (Table 5)", variant=variant)
        assert (row["value"], row["frames"], row["dataset"]) == (value, "16", "k400")


def test_anchor_bike_decoded_table1() -> None:
    """bike Table 1: ViT-L/14 16x224^2, 830 GFLOPs x 4x3 views, 88.1 top-1 (decoded from '83012')."""
    frame = load("bike")
    row = one(frame, source="bike Table 1", method="BIKE", frames="16", metric="top1")
    assert (row["resolution"], row["views"], row["gflops_per_view"], row["gflops_total"]) == ("224", "4x3", "830",
                                                                                               "9960")
    assert row["value"] == "88.1"
    zero = one(frame, source="bike Table 5", method="BIKE", dataset="ucf101", protocol="zeroshot_half")
    assert (zero["value"], zero["std"]) == ("86.6", "3.4")


def test_numbers_the_papers_print_twice_agree() -> None:
    """Cells shared between tables of one paper must match (catches transcription typos)."""
    ftp = load("ftp")
    metric_cols = ["dataset", "metric"]
    group17 = ftp[ftp["variant"] == "group 17: A+B+C+D"].set_index(metric_cols)["value"]
    gpt4 = ftp[ftp["variant"] == "VLM=GPT-4"].set_index(metric_cols)["value"]
    assert group17.sort_index().equals(gpt4.sort_index())
    with_ftp = ftp[(ftp["source"] == "ftp Table 6") & (ftp["method"] == "FTP-UniFormerV2")]
    for _, row in with_ftp.iterrows():
        assert group17[(row["dataset"], row["metric"])] == row["value"]
    table1 = one(ftp, source="ftp Table 1", method="FTP-UniFormerV2", backbone="ViT-L/14", frames="32",
                 metric="top1")
    assert table1["value"] == group17[("k400", "top1")]
    alt = load("alt")
    full = one(alt, source="alt Table 5", variant="Align+ToMe+Region", dataset="k400")
    assert full["value"] == one(alt, source="alt Table 8", variant="r=8")["value"]
    assert one(alt, source="alt Table 5", variant="Align+ToMe+Region", dataset="hmdb51")["value"] == one(
        alt, source="alt Table 2", method="ALT", backbone="ViT-B/16", dataset="hmdb51", shots="2")["value"]


def test_readme_row_counts_match() -> None:
    """README.md lists each CSV with its row count; keep it honest after a rebuild."""
    readme = (PUBLISHED / "README.md").read_text(encoding="utf-8")
    for paper in PAPERS:
        assert f"| `{paper}.csv` | `../shared/papers/" in readme
        line = next(ln for ln in readme.splitlines() if ln.startswith(f"| `{paper}.csv` |"))
        assert int(line.rstrip(" |").rsplit("|", 1)[1]) == len(load(paper)), line
