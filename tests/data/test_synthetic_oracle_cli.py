"""The oracle text source (ground truth as a VLM would say it) and ``bench data`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.data.catalog import get_dataset
from bench.data.synthetic.oracle import Oracle, OracleConfig, oracle_for


def _rows(info):
    return [json.loads(line) for line in Path(info.extra["meta"]).read_text().splitlines()]


def test_ftp_answers_carry_different_information() -> None:
    info = get_dataset("syn_k400")
    oracle = oracle_for("syn_k400")
    row = _rows(info)[0]
    a, b, c, d = (oracle.answer(f"ftp/{q}", row["video"]) for q in "ABCD")
    assert a == row["class"]
    assert row["colour"] in b and row["shape"] in b and row["scene_colour"] not in b  # components, no scene
    assert row["scene_colour"] in d and row["pattern"] in d and row["shape"] not in d  # context only
    assert len(c.split()) >= 4 and c not in (a, b, d)


def test_vlc_alt_bike_answers_parse_with_the_text_parsers() -> None:
    from bench.text.parsing import parse_keywords, parse_sentences, parse_units

    info = get_dataset("syn_k400")
    oracle = oracle_for("syn_k400")
    name = info.classes[0]
    kws = parse_keywords(oracle.answer("vlc/decompose", name), [name])[name]
    assert any(w in " ".join(kws) for w in name.split())
    two = " | ".join(info.classes[:2])
    both = parse_keywords(oracle.answer("vlc/decompose", two), info.classes[:2])
    assert set(both) == set(info.classes[:2])
    assert len(parse_sentences(oracle.answer("vlc/expand", name, f"[{name}]: {', '.join(kws)}. Please"))) >= 2
    cats = {c for _, c in parse_units(oracle.answer("alt/units", name))}
    assert {"body", "scene", "motion"} <= cats
    assert "floor" in oracle.answer("alt/describe_sentence", "striped grey floor")
    assert len(oracle.attribute_lexicon()) > 50
    with pytest.raises(LookupError):
        oracle.answer("ftp/A", "videos/not_a_video.mp4")


def test_weaker_oracle_is_noisy_but_deterministic() -> None:
    info = get_dataset("syn_k400")
    root = info.video_root
    perfect, weak = Oracle(root), Oracle(root, OracleConfig(noise=0.5, omission=0.5, seed=1))
    videos = [r["video"] for r in _rows(info)]
    answers = [weak.answer("ftp/B", v) for v in videos]
    assert answers == [Oracle(root, OracleConfig(noise=0.5, omission=0.5, seed=1)).answer("ftp/B", v) for v in videos]
    assert sum(a != perfect.answer("ftp/B", v) for a, v in zip(answers, videos)) >= len(videos) // 4


def test_offline_text_provider_uses_the_oracle() -> None:
    from bench.data.synthetic.oracle import register_oracles
    from bench.text.offline import OfflineProvider
    from bench.text.request import TextRequest

    register_oracles()
    info = get_dataset("syn_k400")
    vid = _rows(info)[0]["video"]
    ans = OfflineProvider().ask(TextRequest("What is the action category?", item=vid, dataset="syn_k400",
                                            prompt_id="ftp/A"))
    assert ans == _rows(info)[0]["class"]


def test_cli_prepare_then_verify(tmp_path, monkeypatch, capsys) -> None:
    from bench.cli import main

    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    assert main(["data", "prepare", "--size", "tiny", "--only", "syn_hmdb", "syn_ava"]) == 0
    out = capsys.readouterr().out
    assert "syn_hmdb" in out and "built" in out and str(tmp_path) in out
    assert main(["data", "prepare", "--size", "tiny", "--only", "syn_hmdb"]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["data", "prepare", "--size", "tiny", "--only", "nope"]) == 2
    assert "known parts" in capsys.readouterr().err
    assert main(["data", "ls", "--size", "tiny"]) == 0
    assert "syn_hmdb" in capsys.readouterr().out
