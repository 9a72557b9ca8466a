"""``bench text`` and ``bench cache`` through the real command line entry point."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.cli import main
from bench.registry import DATASETS
from bench.text.offline import ORACLES


@dataclasses.dataclass
class _Info:
    classes: list[str]
    video_root: Path
    list_file: Path

    def split_file(self, split: str) -> Path:
        return self.list_file


def test_build_list_info_prune(tmp_path, capsys, world):
    name = "clitext_world"
    lst = tmp_path / "train.txt"
    lst.write_text("a.mp4 0\nb.mp4 1\n")
    if name not in DATASETS:
        DATASETS.register(name, lambda: _Info(["jump", "kick"], tmp_path, lst))
        ORACLES.register(name, type(world[1])())
    assert main(["text", "build", "--method", "vlc", "--dataset", name, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "class_descriptions: 6 answers (0 from cache, 6 asked)" in out
    assert main(["text", "build", "--method", "vlc", "--dataset", name, "--no-progress"]) == 0
    assert "6 answers (6 from cache, 0 asked)" in capsys.readouterr().out
    assert main(["text", "list"]) == 0
    assert "ftp/C: Describe the action in the image in detail" in capsys.readouterr().out
    assert main(["cache", "info"]) == 0
    info = capsys.readouterr().out
    assert "text " in info and "LLM/VLM answers" in info
    assert main(["cache", "prune", "--all"]) == 0
    assert "removed 6 files" in capsys.readouterr().out


def test_bad_provider_and_options_exit_2_with_a_message(capsys):
    assert main(["text", "build", "--method", "vlc", "--dataset", "x", "--provider", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown" in err
    assert main(["text", "build", "--method", "vlc", "--dataset", "x", "--option", "novalue"]) == 2
    assert "key=value" in capsys.readouterr().err
    assert main(["cache", "prune"]) == 2
    assert "--older-than" in capsys.readouterr().err


def test_option_values_are_json(tmp_path):
    from bench.cli.text import _kv

    assert _kv(["limit=2", 'prompts=["A","B"]', "split=train"], "--option") == {
        "limit": 2, "prompts": ["A", "B"], "split": "train"}
    json.dumps(_kv(["x=1.5"], "--option"))
