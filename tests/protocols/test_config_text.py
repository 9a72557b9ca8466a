"""A Runner's config text is computed once per content (``protocols.engine.memo_text_config``)."""

from __future__ import annotations

import mmengine.config.config as mm_config
from mmengine.config import Config

from protocols.engine import memo_text_config


def test_pretty_text_is_mmengines_and_formatted_once_per_content(monkeypatch):
    cfg = Config(dict(model=dict(type="X", layers=[1, 2, 3]), lr=0.1, name="a"))
    expected = cfg.pretty_text  # MMEngine's own text, before any memo
    calls = {"n": 0}
    real = mm_config.FormatCode

    def counting(*a, **kw):
        calls["n"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(mm_config, "FormatCode", counting)
    memo = memo_text_config(cfg)
    assert isinstance(memo, Config) and memo.to_dict() == cfg.to_dict()
    assert [memo.pretty_text for _ in range(5)] == [expected] * 5 and calls["n"] == 1
    import copy

    runner_copy = copy.deepcopy(memo)  # what a Runner keeps
    assert runner_copy.pretty_text == expected and calls["n"] == 1
    runner_copy.lr = 0.2  # new content: formatted again, and the text says so
    assert "lr = 0.2" in runner_copy.pretty_text and calls["n"] == 2
    assert runner_copy.pretty_text == Config(runner_copy.to_dict()).pretty_text
    assert memo.pretty_text == expected  # the original is untouched
