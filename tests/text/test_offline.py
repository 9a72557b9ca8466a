"""The offline provider: answer files in both formats, dataset oracles, clear errors."""

from __future__ import annotations

import json

import pytest

from bench.errors import ConfigError
from bench.text.offline import OfflineProvider
from bench.text.providers import ProviderError, make_provider
from bench.text.request import TextRequest


def _req(item, pid, dataset=None):
    return TextRequest("some prompt", item=item, prompt_id=pid, dataset=dataset)


def test_jsonl_and_json_files(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"item": "v1.mp4", "prompt_id": "ftp/A", "answer": "dribbling"}) + "\n\n"
        + json.dumps({"item": "v1.mp4", "prompt_id": "ftp/A", "dataset": "other", "answer": "other ds"}) + "\n")
    (tmp_path / "b.json").write_text(json.dumps({"vlc/expand": {"archery": ["Draws a bow.", "Aims."]}}))
    p = OfflineProvider(files=[tmp_path])
    assert p.ask(_req("v1.mp4", "ftp/A")) == "dribbling"
    assert p.ask(_req("v1.mp4", "ftp/A", dataset="other")) == "other ds"
    assert p.ask(_req("archery", "vlc/expand")) == "Draws a bow.\nAims."
    assert p.model == "files+oracle(world=3,noise=0,omission=0,seed=0)"


def test_missing_answer_names_what_was_tried(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"item": "x", "prompt_id": "ftp/A", "answer": "y"}) + "\n")
    with pytest.raises(ProviderError) as e:
        OfflineProvider(files=[f]).ask(_req("v9.mp4", "ftp/B", dataset="nodata"))
    msg = str(e.value)
    assert str(f) in msg and "v9.mp4" in msg and "no oracle for dataset 'nodata'" in msg


def test_bad_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item": "x", "answer": "y"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:1 lacks \['prompt_id'\]"):
        OfflineProvider(files=[bad])
    with pytest.raises(ConfigError, match="does not exist"):
        OfflineProvider(files=[tmp_path / "none.json"])
    with pytest.raises(ConfigError, match="unknown options"):
        make_provider("offline", url="x")


def test_oracle_answers_and_can_decline(world):
    view, oracle = world
    p = make_provider("offline")
    assert "jump" in p.ask(TextRequest("q", item="jump", prompt_id="vlc/expand", dataset=view.name))
    oracle.fail_items.add("kick")
    with pytest.raises(ProviderError, match="could not answer"):
        p.ask(TextRequest("q", item="kick", prompt_id="vlc/expand", dataset=view.name))


def test_files_take_precedence_over_the_oracle(world, tmp_path):
    view, oracle = world
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"item": "jump", "prompt_id": "vlc/expand", "answer": "from file"}) + "\n")
    assert OfflineProvider(files=[f]).ask(_req("jump", "vlc/expand", view.name)) == "from file"
    assert oracle.calls == 0


def test_the_synthetic_oracle_answers_whatever_was_imported_first(syn_k400):
    """The world's oracle is found when the world was imported before the text layer (a fresh process)."""
    import subprocess
    import sys

    code = ("import bench.data.synthetic.oracle, bench.data.catalog\n"  # the world first, the text layer after
            "from bench.text.offline import OfflineProvider\n"
            "from bench.text.request import TextRequest\n"
            "from bench.data.catalog import get_dataset\n"
            "ds = get_dataset('syn_k400')\n"
            "name = ds.classes[0]\n"
            "print(OfflineProvider().ask(TextRequest('p', item=name, prompt_id='alt/units', dataset='syn_k400')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip(), "the oracle gave an empty answer"
