"""The ftp table specs and grids of Tables 2-4, B4 and the other-dataset columns of Tables 5-7."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEW_SPECS = ("ftp_ssv2", "ftp_ucf_hmdb", "ftp_ava", "ftp_k600", "ftp_prompts", "ftp_vlm", "ftp_encoders")
TRANSFER = {"ftp_prompts": ("k600", "ssv2", "ucf101", "hmdb51"), "ftp_vlm": ("k600", "ssv2", "ucf101", "hmdb51"),
            "ftp_encoders": ("k600", "ssv2")}
# syn_k600 is the zero-shot set of novel classes (no training split): the K600 transfer grids, like SSV2, have no
# default profile
SYN = {"ucf101": "syn_ucf", "hmdb51": "syn_hmdb"}


def _published(source, **where):
    rows = csv.DictReader(open(REPO / "results" / "published" / "ftp.csv"))
    return [r for r in rows if r["source"] == source and all(r[k] == v for k, v in where.items())]


@pytest.mark.parametrize("name", NEW_SPECS)
def test_specs_render_the_papers_numbers(name, tmp_path):
    from bench.tables import render

    paths = render(REPO / "results" / "tables" / f"{name}.yaml", out=tmp_path, results=tmp_path / "no-records")
    md = paths["md"].read_text()
    assert md.count("\n| ") >= 3
    if name == "ftp_ssv2":  # Table 2's FTP rows, read from the published CSV by hand
        for r in _published("ftp Table 2", method="FTP-UniFormerV2", metric="top1"):
            assert r["value"] in md, r
    if name == "ftp_ucf_hmdb":
        for r in _published("ftp Table 3", method="FTP-UniFormerV2"):
            assert r["value"] in md, r


def test_grids_expand_and_name_the_papers_rows():
    from bench.grid import expand, read_grid

    def cells(name, profile):
        specs, problems = expand(read_grid(REPO / "ablations" / f"{name}.yaml"), profile, name)
        assert not problems, problems
        return specs

    ssv2 = cells("ftp_ssv2", "paper")
    assert {s.case: s.size for s in ssv2} == {"ViT-B/16 16x224": "uniformerv2_b16_8x224",
                                              "ViT-L/14 32x224": "uniformerv2_l14_32x224"}
    assert all(s.dataset == "ssv2" for s in ssv2)
    assert ssv2[0].overrides["model.feature_grid"] == [16, 14, 14]
    assert sorted((s.case, s.dataset) for s in cells("ftp_ucf_hmdb", "paper")) == [
        ("ViT-B/16", "hmdb51"), ("ViT-B/16", "ucf101"), ("ViT-L/14", "hmdb51"), ("ViT-L/14", "ucf101")]
    assert [s.case for s in cells("ftp_k600", "paper")] == ["ViT-B/16 8x224", "ViT-L/14 32x224", "ViT-L/14 32x336"]
    for base, datasets in TRANSFER.items():
        ref = cells(base, "default")
        for ds in datasets:
            paper = cells(f"{base}_{ds}", "paper")
            assert [s.case for s in paper] == [s.case for s in ref] and {s.dataset for s in paper} == {ds}
            if ds in SYN:
                assert {s.dataset for s in cells(f"{base}_{ds}", "default")} == {SYN[ds]}
            else:  # no synthetic set to train stage 2 on: the default profile is refused, naming the profiles
                _, problems = expand(read_grid(REPO / "ablations" / f"{base}_{ds}.yaml"), "default", ds)
                assert any("no profile 'default'" in p for p in problems), problems


def test_transfer_cells_reuse_the_k400_grids_stage1_artefacts(syn_k400, monkeypatch, tmp_path):
    """The UCF-like cells of Table 7 consume the very artefacts of the K400-like grid: no new producer."""
    monkeypatch.setenv("BENCH_ARTEFACTS", str(tmp_path))
    import methods  # noqa: F401
    from bench import artefacts
    from bench.grid import expand, read_grid

    def keys(name):
        specs, _ = expand(read_grid(REPO / "ablations" / f"{name}.yaml"), "default", name)
        return {a.key for arts in artefacts.plan(specs).values() for a in arts}

    k400 = keys("ftp_prompts")
    assert len(k400) == 4 and keys("ftp_prompts_ucf101") == k400
