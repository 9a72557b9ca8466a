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


def test_ftp_answers_say_only_what_the_keyframes_show() -> None:
    """The oracle looks: a factor is said only when one of the K keyframes shows it (module docstring).

    Expected values by hand: keyframes at the centres of K equal intervals of the 16 frames (ftp, section 3),
    int((i + 0.5) * 16 / K): K = 1 -> [8]; K = 2 -> [4, 12]; K = 5 -> [1, 4, 8, 11, 14]. A one-way motion needs
    two keyframes with the actor in view, a repeating one (bounce, zigzag, orbit) three."""
    import numpy as np

    from bench.data.synthetic.oracle import keyframes_shown

    info = get_dataset("syn_k400")
    oracle = oracle_for("syn_k400")
    rows = _rows(info)
    assert all(r["num_frames"] == 16 for r in rows)
    whole = [r for r in rows if not r["brief"]]
    one_way = next(r for r in whole if r["motion"] in ("slide left", "slide right", "rise", "fall", "grow", "shrink"))
    v = one_way["video"]
    actor = f"{one_way['colour']} {one_way['shape']}"
    gerund = one_way["class"].split(actor + " ", 1)[1].split(" ")[0]  # the class name's gerund ("sliding", ...)
    assert oracle.answer("ftp/A", v, keyframes=5) == one_way["class"]
    assert oracle.answer("ftp/A", v, keyframes=1).startswith(f"a {actor} on a ")  # no motion in one frame
    assert gerund not in oracle.answer("ftp/A", v, keyframes=1) and gerund not in oracle.answer("ftp/B", v, keyframes=1)
    assert f"movement: {gerund}" in oracle.answer("ftp/B", v, keyframes=2)
    assert "first" in oracle.answer("ftp/C", v, keyframes=5) and "first" not in oracle.answer("ftp/C", v, keyframes=1)
    assert oracle.answer("ftp/D", v, keyframes=1) == oracle.answer("ftp/D", v, keyframes=5)  # the scene: in every frame
    repeating = [r for r in whole if r["motion"] in ("bounce", "zigzag", "orbit")]
    for r in repeating:
        assert "movement:" not in oracle.answer("ftp/B", r["video"], keyframes=2)
        assert "movement:" in oracle.answer("ftp/B", r["video"], keyframes=3)
    brief = [r for r in rows if r["brief"]]
    assert brief, "the tiny syn_k400 has no brief clip"
    for r in brief:
        seen_at_1 = 8 in r["visible_frames"]
        assert (r["shape"] in oracle.answer("ftp/B", r["video"], keyframes=1)) == seen_at_1, r
    # K from the request's image: K square keyframes side by side
    assert keyframes_shown((np.zeros((64, 320, 3), np.uint8),)) == 5 and keyframes_shown(()) is None


def test_ftp_answers_refuse_a_meta_row_without_its_frame_count(tmp_path) -> None:
    """The keyframes need the clip's frame count; a row without it (older data) is refused, never guessed."""
    import shutil

    from bench.errors import DataError

    root = get_dataset("syn_k400").video_root
    shutil.copy(root / "class_info.json", tmp_path / "class_info.json")
    row = _rows(get_dataset("syn_k400"))[0]
    del row["num_frames"]
    (tmp_path / "meta.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="num_frames.*bench data prepare"):
        Oracle(tmp_path).answer("ftp/B", row["video"], keyframes=5)


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
    assert "floor" in oracle.answer("alt/describe_sentence", "striped floor with a grey rug")
    assert "rug" in oracle.answer("alt/describe_sentence", "striped floor with a grey rug")
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
