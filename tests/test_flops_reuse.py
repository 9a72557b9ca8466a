"""FLOPs once per model identity: a second cell with the same model config and input reuses the count."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def _prep(views: str, classes: list[str]):
    from bench.method import get_method, load_config

    return SimpleNamespace(cfg=load_config("clip_meanpool", "tiny"), protocol=SimpleNamespace(args={"views": views}),
                           episodes=[SimpleNamespace(train_classes=None, classes=classes)],
                           method=get_method("clip_meanpool"))


@pytest.mark.slow
def test_a_second_cell_with_the_same_model_reuses_the_count_without_building(monkeypatch, tmp_path):
    from mmaction.registry import MODELS

    from bench.job_flops import flops_of

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    builds = []
    original = MODELS.build

    def counting(cfg, *a, **k):
        builds.append(cfg.get("type") if hasattr(cfg, "get") else cfg)
        return original(cfg, *a, **k)

    monkeypatch.setattr(MODELS, "build", counting)
    first = flops_of(_prep("1x1", ["a", "b", "c"]))
    n = len(builds)
    assert n >= 1 and first["gflops_per_view"] > 0
    assert flops_of(_prep("1x1", ["a", "b", "c"])) == first and len(builds) == n  # reused, nothing built
    more = flops_of(_prep("1x1", ["a", "b", "c", "d"]))  # another head size: another identity, counted
    assert len(builds) > n and more["class_text_prompts"] > first["class_text_prompts"]
    # a broken entry is never used: it is counted again and rewritten
    for f in (tmp_path / "cache" / "flops").rglob("*.json"):
        f.write_text("{not json")
    before = len(builds)
    assert flops_of(_prep("1x1", ["a", "b", "c"])) == first and len(builds) > before


def test_an_entry_for_another_identity_is_not_used(monkeypatch, tmp_path):
    import json

    from bench import job_flops

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    ident = job_flops.model_identity({"type": "X"}, (3, 8, 224, 224), "8x1x1", (), ())
    job_flops.store_cached(ident, {"gflops_per_view": 1.0})
    path = job_flops._cache_path(ident)
    entry = json.loads(path.read_text())
    entry["identity"]["views"] = "8x3x4"  # a hash collision or a hand-edited file
    path.write_text(json.dumps(entry))
    assert job_flops.load_cached(ident) is None
