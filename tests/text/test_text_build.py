"""Text builds: the four generic needs end to end, resume from cache, failures reported and counted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.text.build import build, load_artefact
from bench.text.context import TextBuildError
from bench.text.keyframes import concat_side_by_side, keyframe_indices, read_keyframes


def test_class_descriptions_decompose_then_expand(world):
    view, oracle = world
    (res,) = build("vlc", view.name, view=view, progress=False)
    art = load_artefact(view.name, "class_descriptions")
    bank = art["classes"]
    assert set(bank) == {"jump", "kick"}
    assert bank["jump"]["keywords"] == ["jump ball", "arms", "jump court", "jumping"]
    assert all(len(s.split()) >= 3 for s in bank["kick"]["descriptions"]) and len(bank["kick"]["descriptions"]) == 2
    # 2 classes x (1 decompose + 2 expand prompts of <= 3 keywords)
    assert oracle.calls == 6 and res.stats["vlc/expand"].asked == 4
    src = art["provenance"]["sources"][0]
    oracle = "oracle(world=3,noise=0,omission=0,seed=0)"
    assert (src["provider"], src["model"], src["answers"], len(src["keys"])) == ("offline", oracle, 6, 6)


def test_rerun_resumes_from_cache_with_identical_artefact(world):
    view, oracle = world
    build("alt", view.name, view=view, progress=False)
    first = load_artefact(view.name, "entity_corpus")
    calls = oracle.calls
    (res,) = build("alt", view.name, view=view, progress=False)
    second = load_artefact(view.name, "entity_corpus")
    assert oracle.calls == calls  # nothing asked again
    assert all(s.asked == 0 and s.from_cache == s.total for s in res.stats.values())
    assert first["entities"] == second["entities"]
    units = {e["unit"]: e for e in first["entities"]}
    assert {"head", "hands", "feet", "ball", "court", "jump", "kick"} <= set(units)
    assert units["court"]["category"] == "scene" and units["arms"]["category"] == "body"
    assert units["jump net"]["classes"] == ["jump"] and units["ball"]["classes"] == ["jump", "kick"]


def test_failed_items_are_reported_counted_and_resumed(world):
    view, oracle = world
    oracle.fail_items.add("kick")
    with pytest.raises(TextBuildError) as e:
        build("vlc", view.name, view=view, progress=False)
    assert "1 of 2 requests got no usable answer" in str(e.value) and "kick" in str(e.value)
    calls = oracle.calls
    oracle.fail_items.clear()
    (res,) = build("vlc", view.name, view=view, progress=False)
    assert res.stats["vlc/decompose"].from_cache == 1 and res.stats["vlc/decompose"].asked == 1
    assert oracle.calls == calls + 1 + 4  # kick's decompose, then all expands (none cached before)


def test_unparsable_answer_is_retried_then_reported(world, tmp_path):
    view, _ = world
    answers = tmp_path / "a.jsonl"
    answers.write_text("\n".join(json.dumps({"item": c, "prompt_id": "vlc/decompose", "answer": "   .  "})
                                 for c in view.classes))
    sleeps = []
    with pytest.raises(TextBuildError, match="AnswerParseError"):
        build("vlc", view.name, provider_options={"files": [str(answers)], "use_oracles": False}, view=view,
              progress=False, retry={"attempts": 3, "base_delay": 1.0, "sleep": sleeps.append})
    assert len(sleeps) == 2 * 2 and sleeps[1] > sleeps[0]  # 2 classes x 2 waits, growing


def test_attribute_lexicon_asks_nothing(world):
    view, oracle = world
    build("bike", view.name, view=view, progress=False)
    art = load_artefact(view.name, "attribute_lexicon")
    assert art["lexicon"] == ["jump", "kick"] and art["prompt"] == "This is a video about {}"
    assert oracle.calls == 0


def test_video_answers_four_prompts_per_video(world):
    view, oracle = world
    (res,) = build("ftp", view.name, view=view, progress=False)
    art = load_artefact(view.name, "video_answers")
    assert [r["video"] for r in art["rows"]] == ["v0.mp4", "v1.mp4", "v2.mp4"]
    assert set(art["rows"][0]["answers"]) == {"A", "B", "C", "D"}
    assert "(30 px wide)" in art["rows"][1]["answers"]["C"]  # 5 keyframes of width 6 side by side
    assert res.stats["ftp/answers"].asked == 12 and oracle.calls == 12


def test_video_answers_with_limit_and_a_subset_of_prompts(world):
    view, _ = world
    build(None, view.name, need="video_answers", need_options={"limit": 2, "prompts": ["B", "C"]}, view=view,
          progress=False)
    rows = load_artefact(view.name, "video_answers")["rows"]
    assert len(rows) == 2 and set(rows[0]["answers"]) == {"B", "C"}


def test_unknown_need_option_is_refused(world):
    view, _ = world
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="accepted"):
        build("vlc", view.name, view=view, need_options={"colour": 1}, progress=False)


def test_keyframes_from_a_real_video(tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        for i in range(20):
            img = np.full((16, 32, 3), i * 12, np.uint8)
            for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    frames = read_keyframes(path, 5)
    assert len(frames) == 5 and frames[0].shape == (16, 32, 3)
    means = [f.mean() for f in frames]
    assert means == sorted(means) and means[0] < means[-1]  # equal time intervals over a brightening clip
    assert concat_side_by_side(frames).shape == (16, 160, 3)
    assert keyframe_indices(20, 5) == [2, 6, 10, 14, 18]


def test_a_provider_that_answers_nothing_stops_the_stage_early(world):
    view, oracle = world
    oracle.fail_items.update(v for v, _ in view.videos("train"))
    with pytest.raises(TextBuildError, match="stopped after 2 failures in a row; 2 of 2 requests"):
        build("ftp", view.name, view=view, progress=False, retry={"max_consecutive_failures": 2})
    assert oracle.calls == 2
