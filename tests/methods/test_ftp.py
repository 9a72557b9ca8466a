"""FTP (four-tiered prompts): processors, integration, InfoNCE, stage isolation, configs, FLOPs, effects."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F

from bench.errors import ConfigError

torch.set_num_threads(1)


def _tiny_cfg(**model):
    """The tiny config with a randomly initialised encoder (no pretraining needed) and no disk cache."""
    import methods  # noqa: F401  (registers ftp)
    from bench.method import load_config

    cfg = load_config("ftp", "tiny")
    cfg.model.backbone.weights = None
    cfg.model.feature_cache = False
    for k, v in model.items():
        cfg.model[k] = v
    return cfg


def _build(**model):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(_tiny_cfg(**model).model.to_dict())


# ---------------------------------------------------------------------------------------------- processors
def test_processor_pools_space_and_time_of_a_hand_made_map():
    from methods.ftp.processors import FeatureProcessor

    b, t, h, w, d = 2, 3, 2, 2, 4
    m = torch.arange(b * t * h * w * d, dtype=torch.float32).view(b, t, h, w, d)
    proc = FeatureProcessor(d)
    s, tt = proc.pooled(m)
    assert s.shape == (b, t, d) and tt.shape == (b, h * w, d)
    assert torch.equal(s[1, 2], m[1, 2].reshape(h * w, d).mean(0))  # spatial pooling: one row per frame
    assert torch.equal(tt[0, 3], m[0, :, 1, 1].mean(0))  # temporal pooling: one row per position (1,1) -> n=3
    with torch.no_grad():
        proc.proj.weight.copy_(torch.eye(d))
        proc.proj.bias.zero_()
    v = proc(m)
    assert v.shape == (b, t + h * w, d)  # v_i in R^{(T+N) x D}
    assert torch.equal(v[:, :t], s) and torch.equal(v[:, t:], tt)
    s_max, t_max = FeatureProcessor(d, pool="max").pooled(m)
    assert torch.equal(s_max[0, 0], m[0, 0, 1, 1]) and torch.equal(t_max[0, 0], m[0, t - 1, 0, 0])


def test_processor_rejects_unknown_pool_and_bad_map():
    from methods.ftp.processors import FeatureProcessor

    with pytest.raises(ConfigError, match="pool"):
        FeatureProcessor(4, pool="median")
    with pytest.raises(ConfigError, match=r"\(B, T, h, w, D\)"):
        FeatureProcessor(4)(torch.zeros(2, 3, 4))


def test_integration_starts_as_zero_and_replicates_rows_onto_the_grid():
    from methods.ftp.processors import Integration

    t, n, d = 3, 4, 5
    integ = Integration(d, t, n)
    v = torch.randn(2, t + n, d)
    assert torch.equal(integ(v), torch.zeros(2, t, n, d))  # zero-initialised projection: f = m at first
    with torch.no_grad():
        integ.proj.weight.copy_(torch.eye(d))
    r = integ(v)
    assert r.shape == (2, t, n, d)
    # plain replication: position (t, n) receives frame row t plus position row T + n
    assert torch.allclose(r, v[:, :t, None, :] + v[:, None, t:, :])
    with pytest.raises(ConfigError, match="T\\+N"):
        integ(torch.randn(2, t + n + 1, d))


def test_recognizer_integration_shapes_and_alpha():
    model = _build(prompts=["A", "D"])
    m = torch.randn(2, 8, 4, 4, 96)
    assert torch.equal(model.integrate(m), 0.7 * m)  # zero-initialised integration: alpha * m
    with torch.no_grad():
        for p in model.prompts:
            model.integration[p].proj.weight.normal_()
    f = model.integrate(m)
    assert f.shape == m.shape and not torch.allclose(f, 0.7 * m)
    assert model.cls_head(f).shape == (2, 8)
    with pytest.raises(ConfigError, match="feature_grid"):
        model.integrate(torch.randn(2, 8, 2, 2, 96))
    x = torch.randn(2, 3, 16, 64, 64)
    assert model.feature_map(x).shape == (2, 96, 8, 4, 4)  # the AVA protocol's hook
    assert model.video_features(x).shape == (2, 96)  # the linear probe's hook


# ---------------------------------------------------------------------------------------------- InfoNCE
def test_info_nce_equals_the_direct_formula_with_distinct_texts():
    from methods.ftp.processors import info_nce

    torch.manual_seed(0)
    v, e, tau = torch.randn(5, 8), torch.randn(5, 8), 0.07
    sim = torch.zeros(5, 5)
    for i in range(5):
        for j in range(5):
            sim[i, j] = (v[i] / v[i].norm()) @ (e[j] / e[j].norm()) / tau
    direct = 0.0
    for i in range(5):
        direct += -math.log(math.exp(sim[i, i]) / sum(math.exp(sim[i, j]) for j in range(5))) / 10
        direct += -math.log(math.exp(sim[i, i]) / sum(math.exp(sim[j, i]) for j in range(5))) / 10
    assert info_nce(v, e, tau).item() == pytest.approx(direct, rel=1e-5)
    assert info_nce(v, e, tau, torch.arange(5)).item() == pytest.approx(direct, rel=1e-5)
    labels = torch.arange(5)
    ce = 0.5 * (F.cross_entropy(sim, labels) + F.cross_entropy(sim.t(), labels))
    assert info_nce(v, e, tau).item() == pytest.approx(ce.item(), rel=1e-5)


def test_info_nce_counts_identical_answers_as_positives():
    from methods.ftp.processors import info_nce

    torch.manual_seed(1)
    v, e = torch.randn(4, 6), torch.randn(4, 6)
    e[1] = e[0]  # videos 0 and 1 got the same answer
    ids = torch.tensor([0, 0, 1, 2])
    logits = F.normalize(v, dim=-1) @ F.normalize(e, dim=-1).t() / 0.1
    row0 = -(torch.logsumexp(logits[0, :2], 0) - torch.logsumexp(logits[0], 0))
    loss = info_nce(v, e, 0.1, ids)
    assert loss.item() < info_nce(v, e, 0.1).item()  # the duplicate is no longer pushed away
    rows = [-(torch.logsumexp(logits[i][ids == ids[i]], 0) - torch.logsumexp(logits[i], 0)) for i in range(4)]
    cols = [-(torch.logsumexp(logits[:, i][ids == ids[i]], 0) - torch.logsumexp(logits[:, i], 0)) for i in range(4)]
    assert rows[0].item() == pytest.approx(row0.item())
    assert loss.item() == pytest.approx(0.5 * (torch.stack(rows).mean() + torch.stack(cols).mean()).item(), rel=1e-5)


# ---------------------------------------------------------------------------------------------- config errors
def test_unknown_prompt_letter_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"unknown prompt letter\(s\) \['E'\]"):
        _build(prompts=["A", "E"])
    with pytest.raises(ConfigError, match="appears twice"):
        _build(prompts=["A", "A"])


def test_more_keyframes_than_clip_frames_is_a_clear_error():
    with pytest.raises(ConfigError, match="keyframes=17"):
        _build(keyframes=17)


def test_linear_head_refuses_prompts_and_unknown_vlm_or_encoder_names():
    with pytest.raises(ConfigError, match="without FTP"):
        _build(head_type="linear")
    with pytest.raises(ConfigError, match="model.text.vlms"):
        cfg = _tiny_cfg()
        _build(text={**cfg.model.text.to_dict(), "vlm": "gpt4"})
    with pytest.raises(ConfigError, match="model.encoders"):
        _build(encoder="mtv_h")
    plain = _build(head_type="linear", prompts=[])
    assert type(plain.cls_head).__name__ == "FTPLinearHead"


# ---------------------------------------------------------------------------------------------- gradients
def _targets(model, files):
    from methods.ftp.text_targets import TextTargets

    n = len(files)
    emb = {p: F.normalize(torch.randn(n, 64), dim=-1) for p in model.prompts}
    ids = {p: torch.arange(n) for p in model.prompts}
    present = {p: torch.ones(n, dtype=torch.bool) for p in model.prompts}
    return TextTargets({f: i for i, f in enumerate(files)}, emb, ids, present, {}, {})


def _samples(files, labels):
    from mmaction.structures import ActionDataSample

    out = []
    for f, y in zip(files, labels):
        ds = ActionDataSample().set_gt_labels(torch.tensor([y]))
        ds.set_metainfo({"filename": f})
        out.append(ds)
    return out


def _grads(model) -> dict[str, bool]:
    out = {}
    for name, p in model.named_parameters():
        top = name.split(".")[0]
        out[top] = out.get(top, False) or (p.grad is not None and bool(p.grad.abs().sum() > 0))
    return out


@pytest.mark.parametrize("stage", [1, 2])
def test_only_the_stage_parts_receive_gradients(stage):
    model = _build(prompts=["A", "B", "C", "D"])
    model.train()
    files = [f"v{i}.mp4" for i in range(4)]
    model.targets = _targets(model, files)
    model.stage = stage
    for p in model.integration.values():  # non-zero integration, so stage 2 would leak into processors if it could
        torch.nn.init.normal_(p.proj.weight)
    x = torch.randn(4, 1, 3, 16, 64, 64)
    losses = model.loss(x, _samples(files, [0, 1, 2, 3]))
    sum(v for k, v in losses.items() if k.startswith("loss")).backward()
    got = _grads(model)
    assert not got["backbone"]  # the frozen encoder never gets a gradient
    assert not any(p.requires_grad for p in model.backbone.parameters())
    if stage == 1:
        assert set(losses) == {"loss_nce_A", "loss_nce_B", "loss_nce_C", "loss_nce_D"}
        assert got["processors"] and got["aligners"] and not got["integration"] and not got["cls_head"]
    else:
        assert "loss_cls" in losses
        assert got["integration"] and got["cls_head"] and not got["processors"] and not got["aligners"]
    assert model.trainable_parts(stage) == (["processors", "aligners"] if stage == 1 else ["integration", "cls_head"])


def test_optimizer_groups_follow_the_stages():
    from mmengine.optim import build_optim_wrapper

    cfg = _tiny_cfg()
    model = _build()
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    groups = {g["ftp_stage"]: g for g in wrapper.optimizer.param_groups}
    assert set(groups) == {1, 2}
    assert groups[1]["betas"] == (0.9, 0.95) and groups[2]["betas"] == (0.9, 0.999)
    ids1 = {id(p) for p in groups[1]["params"]}
    ids2 = {id(p) for p in groups[2]["params"]}
    assert ids1 == {id(p) for p in [*model.processors.parameters(), *model.aligners.parameters()]}
    assert ids2 == {id(p) for p in [*model.integration.parameters(), *model.cls_head.parameters()]}
    assert not ({id(p) for p in model.backbone.parameters()} & (ids1 | ids2))


# ---------------------------------------------------------------------------------------------- MMAction2 API
def test_init_and_inference_recognizer_on_a_synthetic_mp4(tmp_path):
    import numpy as np
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench.data.synthetic.video_io import write_mp4

    rng = np.random.default_rng(0)
    video = tmp_path / "clip.mp4"
    write_mp4(video, rng.integers(0, 255, size=(16, 64, 64, 3), dtype=np.uint8))
    cfg = _tiny_cfg()
    model = init_recognizer(cfg, device="cpu")
    result = inference_recognizer(model, str(video))
    scores = result.pred_scores.item
    assert scores.shape == (8,) and torch.isfinite(scores).all()
    assert float(scores.sum()) == pytest.approx(1.0, abs=1e-4)  # average_clips='prob'


def test_method_registration_and_grids():
    import methods  # noqa: F401
    from bench.grid import expand, read_grid
    from bench.method import get_method

    info = get_method("ftp")
    assert not info.supports("zeroshot")
    assert {"supervised", "fewshot", "linear_probe", "ava"} <= set(info.protocols)
    raw = read_grid(__import__("pathlib").Path(methods.__file__).parents[1] / "ablations" / "ftp_prompts.yaml")
    specs, problems = expand(raw, "default", "ftp_prompts")
    assert not problems and len(specs) == 16
    cases = {s.case: s.overrides["model.prompts"] for s in specs}
    assert cases["g01_none"] == [] and cases["g17_ABCD"] == ["A", "B", "C", "D"] and "g12" not in "".join(cases)
    assert len({tuple(v) for v in cases.values()}) == 16


# ---------------------------------------------------------------------------------------------- FLOPs
PAPER = {  # ftp Table 1 (K400): TFLOPs over views, params (M); plain rows are UniFormerV2's
    ("uniformerv2_b16_8x224", "ftp"): (8, 224, "8x3x4", 2200 / 12, 136),
    ("uniformerv2_b16_8x224", "linear"): (8, 224, "8x3x4", 1800 / 12, 115),
    ("uniformerv2_l14_32x224", "ftp"): (32, 224, "32x3x2", 18400 / 6, 402),
    ("uniformerv2_l14_32x224", "linear"): (32, 224, "32x3x2", 16000 / 6, 354),
}


def _count(size: str, head: str):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from bench.flops import count_recognizer
    from bench.method import load_config

    register_all_modules()
    cfg = load_config("ftp", size)
    cfg.model.backbone.weights = None
    if head == "linear":
        cfg.model.head_type, cfg.model.prompts = "linear", []
    frames, res, views, _, _ = PAPER[(size, head)]
    model = MODELS.build(cfg.model.to_dict()).eval()
    return count_recognizer(model, (3, frames, res, res), views=views, text_modules=("aligners",))


@pytest.mark.slow
@pytest.mark.parametrize("size,head", [k for k in PAPER if "b16" in k[0]])
def test_flops_and_params_match_the_paper_b16(size, head):
    r = _count(size, head)
    _, _, _, gflops, params = PAPER[(size, head)]
    assert r.uncounted_ops == {}
    assert r.gflops_per_view == pytest.approx(gflops, rel=0.03)
    assert r.params_inference_m == pytest.approx(params, rel=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("size,head", [k for k in PAPER if "l14" in k[0]])
def test_flops_and_params_match_the_paper_l14(size, head):
    r = _count(size, head)
    _, _, _, gflops, params = PAPER[(size, head)]
    assert r.uncounted_ops == {}
    assert r.gflops_per_view == pytest.approx(gflops, rel=0.03)
    assert r.params_inference_m == pytest.approx(params, rel=0.03)


# ---------------------------------------------------------------------------------------------- effects
def _run_cell(prompts, seed=0, overrides=None):
    """One cell, after producing the stage-1 artefacts it consumes (as ``bench run`` does)."""
    from bench import artefacts, job
    from bench.spec import RunSpec

    spec = RunSpec(method="ftp", protocol="supervised", dataset="syn_k400", size="tiny", seed=seed,
                   protocol_args={}, overrides={"model.prompts": prompts, **(overrides or {})})
    for art in artefacts.consumes(spec):
        artefacts.produce(art)
    return job.run(spec)


def _predictions(record):
    import numpy as np

    from bench import settings

    (path,) = (settings.work_root() / record["run_id"]).glob("*/predictions_1view.npz")
    return np.load(path)["scores"]


def _scene_sibling_classes(dataset) -> list[str]:
    info = json.loads(dataset.extra["class_info"].read_text())
    by_rest: dict[tuple, list[str]] = {}
    for c in info:
        f = c["factors"]
        if f["scene_colour"]:
            by_rest.setdefault((f["shape"], f["colour"], f["motion"], f["object"], f["pattern"]), []).append(c["name"])
    return [n for names in by_rest.values() if len(names) > 1 for n in names]


EFFECT_SEEDS = (0, 1, 2)
EFFECT_CELLS = {  # name -> (prompts, overrides): Table 7's groups 1 and 17, Table C5's K = 1, D alone
    "g1": ([], {}),
    "g17": (["A", "B", "C", "D"], {}),
    "g17_k1": (["A", "B", "C", "D"], {"model.keyframes": 1}),
    "d_only": (["D"], {}),
}


@pytest.fixture(scope="module")
def effect_cells(syn_k400, tmp_path_factory):
    """The effect tests' cells on tiny syn_k400 (8 classes, 24 test videos: one video = 4.17 points), seeds 0-2,
    stage 1 shared, from cold caches; then group 17 at seed 0 again on warm caches (fresh artefacts and records)."""
    import numpy as np

    root = tmp_path_factory.mktemp("ftp_effects")
    out: dict = {"metrics": {}, "scores": {}}
    with pytest.MonkeyPatch.context() as mp:
        for env, sub in (("BENCH_RESULTS", "results"), ("BENCH_WORK_DIR", "work"), ("BENCH_CACHE", "cache"),
                         ("BENCH_ARTEFACTS", "artefacts")):
            mp.setenv(env, str(root / sub))
        for name, (prompts, over) in EFFECT_CELLS.items():
            for seed in EFFECT_SEEDS:
                record = _run_cell(prompts, seed, over)
                out["metrics"][name, seed] = record["metrics"]
                out["scores"][name, seed] = np.array(_predictions(record))
        for env, sub in (("BENCH_RESULTS", "results_warm"), ("BENCH_WORK_DIR", "work_warm"),
                         ("BENCH_ARTEFACTS", "artefacts_warm")):
            mp.setenv(env, str(root / sub))  # stage 1 again, on the warm text and feature caches
        prompts, over = EFFECT_CELLS["g17"]
        out["warm"] = np.array(_predictions(_run_cell(prompts, 0, over)))
    out["siblings"] = _scene_sibling_classes(syn_k400)
    return out


def _top1(cells, name) -> list[float]:
    return [round(cells["metrics"][name, s]["top1"], 2) for s in EFFECT_SEEDS]


def _per_class_mean(cells, name, classes) -> list[float]:
    return [round(sum(cells["metrics"][name, s]["per_class"][c] for c in classes) / len(classes), 2)
            for s in EFFECT_SEEDS]


def _mean(xs) -> float:
    return sum(xs) / len(xs)


TABLE7_MARGIN = 4.1  # points on the three-seed mean: one test video of 24 per seed (4.17), the group 17 margin


def _beats(better: list[float], worse: list[float]) -> bool:
    """The per-seed comparison of the effect tests: not worse on any seed, better on the mean."""
    return all(b >= w for b, w in zip(better, worse, strict=True)) and _mean(better) > _mean(worse)


@pytest.mark.slow
def test_prompts_reach_the_predictions_and_a_warm_cache_repeats_the_run(effect_cells):
    """The processors change the scores, and a cold and a warm cache give the same run, stage-1 producers included
    (features and text embeddings computed one item at a time, RNG untouched by cache misses)."""
    cold = effect_cells["scores"]["g17", 0]
    assert not (cold == effect_cells["scores"]["g1", 0]).all(), "the processors do not reach the predictions"
    assert (effect_cells["warm"] == cold).all(), "a warm cache changed the fixed-seed run"
    assert not (effect_cells["scores"]["g17_k1", 0] == cold).all(), "K does not reach the predictions"


@pytest.mark.slow
def test_group_17_beats_group_1(effect_cells):
    """Table 7's headline: all four prompts (group 17) beat no prompt (group 1) on seeds 0-2 (per-seed comparison:
    not worse on any seed, better on the mean), by the margin measured.

    Measured (second edition, in the suite): group 1 54.17 / 54.17 / 50.0, group 17 54.17 / 54.17 / 62.5: ties on
    seeds 0 and 1, +3 test videos on seed 2, mean +4.17 (first edition: 80.56 both); on an AVX-512 + AMX Xeon
    group 17 is 58.33 / 54.17 / 62.5, mean +6.9 (the floats, and so a few videos, depend on the CPU's kernels:
    docs/DECISIONS.md); on an AVX2-only AMD EPYC (tiny CLIP 587cdbda) 58.33 / 62.5 / 66.67, mean +9.7. On the
    small world (192 test videos, seed 0, the flagship grid): 67.7 against 72.4, +4.7 [+1.0, +8.9], p = 0.035
    (methods/ftp/README.md); 71.4 on the AVX2-only VM, +3.6 [-0.5, +7.8], p = 0.12."""
    g1, g17 = _top1(effect_cells, "g1"), _top1(effect_cells, "g17")
    print({"g1": g1, "g17": g17})  # the figures, shown with -rA
    assert _beats(g17, g1) and _mean(g17) - _mean(g1) >= TABLE7_MARGIN, {"g1": g1, "g17": g17}


@pytest.mark.slow
def test_context_prompt_helps_the_scene_sibling_classes(effect_cells):
    """D (context) alone against no prompt, on the classes that differ only by their scene (the rug's colour), per
    seed on seeds 0-2, by the margin measured.

    Measured (second edition, in the suite): the pair "pink square sliding left past a ball on a striped floor
    with a navy / brown rug", 3 test videos each: group 1 50.0 / 50.0 / 33.33, D alone 50.0 / 50.0 / 66.67 (one
    video more on seed 2 for each class: mean +11.1); whole-set top-1 54.17 / 54.17 / 50.0 against 54.17 / 54.17 /
    62.5. On an AVX-512 + AMX Xeon D alone is 50.0 / 50.0 / 50.0 (one video more on seed 2: mean +5.6; top-1
    54.17 / 54.17 / 58.33), and so it is on an AVX2-only AMD EPYC (tiny CLIP 587cdbda; the same figures): the
    margin asserted is the smaller, one sibling video more over the three seeds and
    none fewer (the floats depend on the CPU's kernels: docs/DECISIONS.md). First edition: both at 100 on every
    seed (a full-frame colour), so D could not show."""
    sib = effect_cells["siblings"]
    assert sib, "the tiny syn_k400 has no classes that differ only by scene"
    none, d = _per_class_mean(effect_cells, "g1", sib), _per_class_mean(effect_cells, "d_only", sib)
    assert max(none) < 100.0, ("scene siblings at ceiling without prompts", none)
    print({"siblings": sib, "g1": none, "d_only": d, "top1 g1": _top1(effect_cells, "g1"),
           "top1 d_only": _top1(effect_cells, "d_only")})
    assert _beats(d, none) and _mean(d) - _mean(none) >= 5.5, {"siblings": sib, "g1": none, "d_only": d}


# Table C5 in the suite: the effect is absent with the tiny CLIP the AVX-512 machines train, present with the one an
# AVX2-only CPU trains (the weights follow the CPU's kernels: docs/DECISIONS.md)
K_ABSENT = (
    "measured (second edition; tiny, seeds 0-2, in the suite): group 17 with K = 5 54.17 / 54.17 / 62.5 and with K "
    "= 1 the same top-1 on every seed (tiny CLIP c1a7aacf, AVX-512 AMD EPYC), though the predictions differ "
    "(asserted in test_prompts_reach_the_predictions_and_a_warm_cache_repeats_the_run); on an AVX-512 + AMX Xeon "
    "K = 5 58.33 / 54.17 / 62.5 against K = 1 54.17 / 54.17 / 62.5, one video in 72, short of the margin. Small "
    "world, ftp_keyframes grid, seeds 0-2: K = 5 82.3 mean against K = 1 83.5, -1.2 [-11.8, +9.3], p = 0.67. Cause "
    "(methods/ftp/README.md, 'Second edition'): only the motion twins can move (30 points of seed noise), the "
    "motion words K = 5 adds state the label, and the tiny encoder sees motion weakly (1200 pre-training steps "
    "narrow the twins' gap from 10.9 to 3.1 points)")
K_MEASURED = {
    # AVX2-only AMD EPYC: K = 5 58.33 / 62.5 / 66.67 against K = 1 58.33 / 54.17 / 62.5, mean +4.17 (one video per
    # seed): the effect shows, by the margin
    "587cdbda": None,
}


@pytest.mark.slow
def test_five_keyframes_beat_one(effect_cells, verdict_for_weights):
    """Table C5's direction: group 17 with K = 5 keyframes beats K = 1 (the oracle cannot see a motion in one), per
    seed and by Table 7's margin (one test video per seed on the mean): a single video is below what the CPU's
    kernels alone move (docs/DECISIONS.md). A strict xfail with the weights where it was measured absent
    (``K_ABSENT``: every machine measured but the AVX2-only one), a pass where it was measured present."""
    verdict_for_weights(K_MEASURED, K_ABSENT)
    k5, k1 = _top1(effect_cells, "g17"), _top1(effect_cells, "g17_k1")
    print({"K=5": k5, "K=1": k1})  # the figures, shown with -rA
    assert _beats(k5, k1) and _mean(k5) - _mean(k1) >= TABLE7_MARGIN, {"K=5": k5, "K=1": k1}


def test_timm_frame_encoder_counts_through_fvcore_once_per_frame():
    """The timm per-frame encoder (ViT-B/16, DeiT III-B/16 configs) traces: its FLOPs are frames x one image's."""
    import torch

    from bench.flops import count_flops
    from methods.ftp.encoders import FTPTimmFrames

    enc = FTPTimmFrames("vit_tiny_patch16_224", None, img_size=32)

    class First(torch.nn.Module):  # the m tensor (b, t, h, w, d) of encode()
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, x):
            return self.enc.encode(x)[0]

    one = count_flops(First(), (torch.randn(1, 3, 1, 32, 32),))
    four = count_flops(First(), (torch.randn(1, 3, 4, 32, 32),))
    assert one.gflops_per_view > 0 and not one.uncounted_ops
    assert four.gflops_per_view == pytest.approx(4 * one.gflops_per_view, rel=1e-9)
    m = First()(torch.randn(1, 3, 2, 32, 32))
    assert tuple(m.shape) == (1, 2, 2, 2, enc.dim)  # 32 / 16 = a 2 x 2 grid per frame
