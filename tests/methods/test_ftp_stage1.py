"""FTP's stage 1 as shared artefacts (methods/ftp/stage1.py): keys, the flagship plan, stage 2 without any VLM."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.spec import RunSpec

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def art_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_ARTEFACTS", str(tmp_path / "artefacts"))
    return tmp_path / "artefacts"


def _spec(prompts, seed=0, **overrides):
    return RunSpec(method="ftp", protocol="supervised", dataset="syn_k400", size="tiny", seed=seed,
                   overrides={"model.prompts": prompts, **overrides})


def _keys(spec):
    from bench import artefacts

    return {a.label: a.key for a in artefacts.consumes(spec)}


def test_stage1_key_follows_what_determines_the_processors(syn_k400, art_root):
    import methods  # noqa: F401

    a_alone, a_in_ab = _keys(_spec(["A"])), _keys(_spec(["A", "B"]))
    assert a_alone["A"] == a_in_ab["A"] and a_in_ab["A"] != a_in_ab["B"]
    # stage-2-only settings do not change the stage-1 artefact
    for ov in ({"model.alpha": 0.5}, {"train_cfg.max_epochs": 12}, {"optim_wrapper.paramwise_cfg.stage2.lr": 5e-4},
               {"model.cls_head.hidden": 64}, {"model.blending": None}):
        assert _keys(_spec(["A"], **ov))["A"] == a_alone["A"], ov
    # what stage 1 reads does
    for ov in ({"model.stage1_epochs": 4}, {"optim_wrapper.paramwise_cfg.stage1.lr": 1e-3},
               {"model.text.noise": 0.5}, {"model.keyframes": 3}, {"model.pool": "max"},
               {"train_dataloader.batch_size": 4}, {"model.temperature": 0.1}):
        assert _keys(_spec(["A"], **ov))["A"] != a_alone["A"], ov
    assert _keys(_spec(["A"], seed=1))["A"] != a_alone["A"]
    # the paper's reading of one run per cell: nothing is consumed
    assert _keys(_spec(["A"], **{"model.stage1.mode": "per_cell"})) == {}
    assert _keys(_spec([])) == {}


def test_the_flagship_grid_needs_four_producers(syn_k400, art_root):
    import methods  # noqa: F401
    from bench import artefacts
    from bench.grid import load

    grid = load(REPO / "ablations" / "ftp_prompts.yaml", profile="default")
    planned = artefacts.plan(grid.specs)
    keys = {a.label: a.key for arts in planned.values() for a in arts}
    assert sorted(keys) == ["A", "B", "C", "D"] and len(set(keys.values())) == 4
    assert sum(1 for arts in planned.values() if arts) == 15  # g01_none consumes nothing
    assert len(artefacts.missing(planned)) == 4


def test_unknown_stage1_mode_is_a_clear_error(syn_k400):
    import methods  # noqa: F401
    from bench import artefacts
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="model.stage1.mode='every_cell'; accepted: shared, per_cell"):
        artefacts.consumes(_spec(["A"], **{"model.stage1.mode": "every_cell"}))


@pytest.mark.slow
def test_shared_stage2_loads_identical_processors_and_never_touches_a_provider(syn_k400, fresh_dirs, art_root,
                                                                              monkeypatch):
    """Two cells sharing letter A load bit-identical processors; stage 2 asks no VLM and embeds no text."""
    import bench.text
    import methods  # noqa: F401
    import methods.ftp.text_targets as tt
    from bench import artefacts, job, settings
    from bench.text import providers

    short = {"model.stage1_epochs": 1, "train_cfg.max_epochs": 2}
    cells = [_spec(["A"], **short), _spec(["A", "B"], **short)]
    for art in {a.key: a for s in cells for a in artefacts.consumes(s)}.values():
        artefacts.produce(art)

    def forbidden(*a, **k):
        raise AssertionError("stage 2 touched a VLM provider or the text encoder")

    monkeypatch.setattr(tt, "prepare_targets", forbidden)
    monkeypatch.setattr(tt, "ask_answers", forbidden)
    monkeypatch.setattr(tt, "embed_texts", forbidden)
    monkeypatch.setattr(providers, "make_provider", forbidden)
    monkeypatch.setattr(bench.text, "make_provider", forbidden)
    records = [job.run(s) for s in cells]
    saved = artefacts.consumes(cells[0])[0]
    ref = torch.load(saved.path / "processors.pth")["processor"]
    for spec, rec in zip(cells, records):
        assert rec["artefacts"][0]["key"] == saved.key and rec["artefacts"][0]["label"] == "A"
        state = torch.load(settings.work_root() / spec.run_id / "main" / "model_state.pth")
        state = state.get("state_dict", state)
        for name, value in ref.items():
            assert torch.equal(state[f"processors.A.{name}"], value), name  # bit-identical, not only close
        assert not (settings.work_root() / spec.run_id / "main" / "ftp_text.json").exists()


def test_encoder_outputs_stay_in_memory_across_epochs(tmp_path, monkeypatch):
    """A second pass over the same clips neither runs the frozen encoder nor reads the disk cache."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401
    from bench.method import load_config

    register_all_modules()
    cfg = load_config("ftp", "tiny")
    cfg.model.backbone.weights = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model.to_dict()).eval()
    calls = {"encoder": 0, "disk": 0}
    forward = model.backbone.forward

    def counted(x):
        calls["encoder"] += 1
        return forward(x)

    monkeypatch.setattr(model.backbone, "forward", counted)
    x = torch.randn(3, 3, 16, 64, 64)
    with torch.no_grad():
        m1, p1 = model.encode(x)
    store = model._feature_cache().store
    load = store.load

    def counted_load(key):
        calls["disk"] += 1
        return load(key)

    monkeypatch.setattr(store, "load", counted_load)
    assert calls["encoder"] == 3  # one clip at a time, cold
    with torch.no_grad():
        m2, p2 = model.encode(x)
    assert calls == {"encoder": 3, "disk": 0}
    assert torch.equal(m1, m2) and torch.equal(p1, p2)
    # another model (another cell, process) finds the rows on disk, without running the encoder
    other = MODELS.build(cfg.model.to_dict()).eval()
    other.backbone.load_state_dict(model.backbone.state_dict())
    monkeypatch.setattr(other.backbone, "forward", counted)
    other._cache = model._feature_cache()
    with torch.no_grad():
        m3, _ = other.encode(x)
    assert calls == {"encoder": 3, "disk": 3} and torch.equal(m3, m1)


def test_a_letters_modules_and_the_rng_after_init_do_not_depend_on_the_subset():
    """g02_A and g06_AB start letter A alike, and stage 2 then draws the same random numbers (shuffles, mixup)."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401
    from bench.method import load_config

    register_all_modules()
    built, after = {}, {}
    for prompts in (["A"], ["A", "B"], ["B", "C", "D"], []):
        cfg = load_config("ftp", "tiny")
        cfg.model.backbone.weights = None
        cfg.model.prompts = prompts
        torch.manual_seed(0)
        built[tuple(prompts)] = MODELS.build(cfg.model.to_dict())
        after[tuple(prompts)] = torch.rand(4)
    for part in ("processors", "integration", "aligners"):
        one, two = getattr(built[("A",)], part)["A"], getattr(built[("A", "B")], part)["A"]
        for (name, x), (_, y) in zip(one.state_dict().items(), two.state_dict().items()):
            assert torch.equal(x, y), (part, name)
    ab, bcd = built[("A", "B")].processors, built[("B", "C", "D")].processors
    assert not torch.equal(ab["A"].proj.weight, ab["B"].proj.weight)
    assert torch.equal(ab["B"].proj.weight, bcd["B"].proj.weight)
    for v in after.values():
        assert torch.equal(v, after[()])
