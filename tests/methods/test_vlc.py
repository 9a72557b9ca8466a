"""vlc: the assignment, Eq. (12), the gates, loss switches, bad input, FLOPs, the MMAction2 API, the effect."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bench.errors import ConfigError, DataError
from bench.method import get_method, load_config
from methods.vlc.losses import (
    SelfAttentionGate,
    assign_texts,
    distill_loss,
    keyword_masks,
    text_contrastive_loss,
)


def _build(cfg_model):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    return MODELS.build(cfg_model)


def _tiny(**overrides):
    from bench.method import apply_overrides

    cfg = load_config("vlc", "tiny")
    apply_overrides(cfg, overrides)
    return cfg


# -- visual-guided assignment and Eq. (12) --------------------------------------------------------
def test_assignment_picks_best_gt_candidate_and_k_lowest_other_descriptions():
    # 3 classes, descriptions owned [0, 0, 1, 1, 2, 2]; candidates 6..8 are the class names.
    owner = torch.tensor([0, 0, 1, 1, 2, 2])
    scores = torch.tensor([
        # d0    d1    d2    d3    d4    d5   name0 name1 name2
        [0.30, 0.10, 0.90, -0.5, 0.20, -0.1, 0.40, 0.95, 0.00],  # label 0: name0 (0.40) beats d0 (0.30)
        [0.00, -0.9, 0.10, 0.80, 0.70, -0.2, 0.99, 0.50, -1.0],  # label 1: d3 (0.80) beats name1 (0.50)
    ])
    pos, neg = assign_texts(scores, torch.tensor([0, 1]), owner, 3, num_positives=1, num_negatives=2)
    assert pos.tolist() == [[6], [3]]
    # lowest non-GT descriptions: label 0 -> d3 (-0.5), d5 (-0.1); label 1 -> d1 (-0.9), d5 (-0.2).
    # Never a GT description nor a class name, even the lowest-scoring name (name2 = -1.0 in row 2).
    assert sorted(neg[0].tolist()) == [3, 5]
    assert sorted(neg[1].tolist()) == [1, 5]
    pos2, neg_all = assign_texts(scores, torch.tensor([0, 1]), owner, 3, num_positives=3, num_negatives=4)
    assert sorted(pos2[0].tolist()) == [0, 1, 6] and sorted(pos2[1].tolist()) == [2, 3, 7]
    assert sorted(neg_all[0].tolist()) == [2, 3, 4, 5] and sorted(neg_all[1].tolist()) == [0, 1, 4, 5]


def test_eq12_equals_a_direct_computation():
    torch.manual_seed(0)
    z = F.normalize(torch.randn(2, 4), dim=-1)
    cand = F.normalize(torch.randn(7, 4), dim=-1)
    pos, neg = torch.tensor([[1, 2], [0, 6]]), torch.tensor([[3, 4, 5], [1, 2, 3]])
    tau = 0.07
    want = 0.0
    for b in range(2):
        num = sum(math.exp(float(z[b] @ cand[i]) / tau) for i in pos[b])
        den = num + sum(math.exp(float(z[b] @ cand[i]) / tau) for i in neg[b])
        want += -math.log(num / den) / 2
    got = text_contrastive_loss(z, cand, pos, neg, tau)
    assert abs(float(got) - want) < 1e-4


# -- gates ----------------------------------------------------------------------------------------
def test_self_attention_gate_is_eq5():
    torch.manual_seed(0)
    gate = SelfAttentionGate(dim=6, num_heads=1, mlp_ratio=2.0)
    z = torch.randn(2, 5, 6)
    q, k, v = gate.qkv(z).chunk(3, dim=-1)
    g = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(6), dim=-1) @ v
    want = gate.mlp(gate.norm(g)) + g
    out = gate(z)
    assert out.shape == z.shape
    assert torch.allclose(out, want, atol=1e-5)
    assert all(p.requires_grad for p in gate.parameters())


def test_keyword_masks_thresholds_filter_and_max_pool():
    # One frame, 4 patches, 2 keywords in a 2-d embedding space.
    seg = F.normalize(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.2]]]), dim=-1)
    kw = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    valid = torch.tensor([[True, True]])
    cls = F.normalize(torch.tensor([[1.0, 0.3]]), dim=-1)  # R = (0.958, 0.287)
    # kw0 map (cos): [1, 0, .707, -.98] -> scaled [1, .495, .852, 0]; kw1: [0, 1, .707, .196] -> [0, 1, .707, .196]
    both = keyword_masks(seg, cls, kw, valid, thr1=0.8, thr2=0.2)
    assert both.shape == (1, 4)
    assert both.tolist() == [[1.0, 1.0, 1.0, 0.0]]  # max over keywords: kw0 gives patches 0, 2; kw1 patch 1
    only0 = keyword_masks(seg, cls, kw, valid, thr1=0.8, thr2=0.5)  # image-guided filter drops kw1 (R = 0.287)
    assert only0.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    none = keyword_masks(seg, cls, kw, torch.tensor([[False, False]]), thr1=0.8, thr2=0.2)
    assert none.sum() == 0


def test_distill_loss_values():
    target = torch.zeros(1, 2, 3)
    pred = torch.tensor([[[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]])
    assert float(distill_loss(target, pred)) == pytest.approx(2.0)
    mask = torch.tensor([[1.0, 0.0]])
    assert float(distill_loss(target, pred, mask, "all")) == pytest.approx(0.5)  # 3 / 6 elements
    assert float(distill_loss(target, pred, mask, "foreground")) == pytest.approx(1.0)


# -- the model on the synthetic world -------------------------------------------------------------
def _batch(model, n=2, frames=16, size=64):
    from mmaction.structures import ActionDataSample

    torch.manual_seed(0)
    x = [torch.rand(1, 3, frames, size, size) * 255 for _ in range(n)]
    ds = [ActionDataSample().set_gt_labels(torch.tensor([i])) for i in range(n)]
    return model.data_preprocessor({"inputs": x, "data_samples": ds}, True)


@pytest.mark.parametrize("gate", ["identity", "self_attention", "cross_attention"])
def test_gates_give_finite_losses_and_the_right_shapes(syn_k400, gate):
    torch.set_num_threads(1)
    model = _build(_tiny(**{"model.gate.type": gate}).model)
    data = _batch(model)
    losses = model(**data, mode="loss")
    assert {"loss_ce", "loss_text", "loss_image"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    x = data["inputs"].flatten(0, 1)
    t = model.teacher_outputs(x, None)
    assert t["patch"].shape == (2, 16, 64, 64) and t["cls"].shape == (2, 16, 64)
    assert ("seg" in t) == (gate == "cross_attention")
    assert ("gate" in model.distill) == (gate == "self_attention")


def _optimised(model, cfg) -> set[str]:
    from mmengine.optim import build_optim_wrapper

    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    ids = {id(p) for g in wrapper.optimizer.param_groups for p in g["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids and p.requires_grad}


def test_switching_a_loss_off_removes_its_parameters_from_the_optimiser(syn_k400):
    full_cfg = _tiny()
    full = _optimised(_build(full_cfg.model), full_cfg)
    assert any(n.startswith("cls_head.text_proj") for n in full)
    assert any(n.startswith("distill.") for n in full) and any(n.startswith("cls_head.fc_cls") for n in full)
    assert not any(n.startswith("teacher.") for n in full)  # frozen
    ce_cfg = _tiny(**{"model.losses.text": False, "model.losses.image": False})
    ce_model = _build(ce_cfg.model)
    ce_only = _optimised(ce_model, ce_cfg)
    assert not any(n.startswith(("cls_head.text_proj", "distill.", "teacher.")) for n in ce_only)
    assert not any(n.startswith("teacher.") for n, _ in ce_model.named_parameters())
    text_cfg = _tiny(**{"model.losses.ce": False, "model.losses.image": False})
    text_only = _optimised(_build(text_cfg.model), text_cfg)
    assert not any(n.startswith(("cls_head.fc_cls", "distill.")) for n in text_only)
    assert any(n.startswith("cls_head.text_proj") for n in text_only)


def test_same_seed_same_init_whether_the_clip_is_built_or_memoised(syn_k400):
    # A local grid process runs many cells; the CLIP is built by the first only. A grid once gave
    # 71.9 top-1 for the cell that scored 68.8 alone, because the build drew from the run's RNG.
    from methods.vlc.teacher import shared_clip

    cfg = _tiny()
    shared_clip.cache_clear()
    torch.manual_seed(0)
    built = _build(cfg.model).state_dict()
    after_build = torch.rand(3)
    torch.manual_seed(0)
    memoised = _build(cfg.model).state_dict()
    assert torch.equal(torch.rand(3), after_build)
    assert built.keys() == memoised.keys()
    differ = [k for k in built if not torch.equal(built[k], memoised[k])]
    assert not differ, f"init differs in {len(differ)} tensors, e.g. {differ[:3]}"


def test_bad_input_fails_at_build_time(syn_k400):
    with pytest.raises(DataError, match="lacks 1 of"):
        _build(_tiny(**{"model.cls_head.class_names": [*syn_k400.classes[:-1], "juggling chainsaws"]}).model)
    with pytest.raises(ConfigError, match="num_negatives=999"):
        _build(_tiny(**{"model.cls_head.num_negatives": 999}).model)
    with pytest.raises(ConfigError, match="cannot be matched"):  # video grid 16x16 > teacher grid 8x8
        _build(_tiny(**{"model.backbone.patch_size": 4, "model.backbone.video_weights": None}).model)
    with pytest.raises(ConfigError, match="not a multiple of its patch"):
        _build(_tiny(**{"model.teacher_image_size": 60}).model)


def test_zero_shot_scores_new_class_names(syn_k400):
    from bench.data.catalog import get_dataset

    model = _build(_tiny().model).eval()
    x = _batch(model)["inputs"]
    with torch.no_grad():
        assert model.cls_head.scoring() == "linear"
        ucf = get_dataset("syn_ucf").classes
        model.set_class_names(ucf)
        assert model.cls_head.scoring() == "text"
        scores = model.cls_head(model.backbone(x.flatten(0, 1)))
    assert scores.shape == (2, len(ucf)) and torch.isfinite(scores).all()


def test_video_weights_that_do_not_fit_are_refused(tmp_path):
    """Strict loading: a file of no known video layout, or with undeclared extra keys, is an error."""
    from methods.vlc.backbone import VLCVideoEncoder

    enc = VLCVideoEncoder(arch="vit", num_frames=4, img_size=32, embed_dims=32, depth=1, num_heads=2)
    path = tmp_path / "other.pth"
    torch.save({"x": torch.zeros(2)}, path)
    enc.video_weights = str(path)
    with pytest.raises(ConfigError, match="unrecognised layout"):
        enc.init_weights()


@pytest.mark.slow
def test_init_and_inference_recognizer(syn_k400):
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench.data.catalog import read_annotation_list

    model = init_recognizer(str(get_method("vlc").config_path("tiny")), device="cpu")
    video, _ = read_annotation_list(syn_k400.split_file("val"))[0]
    result = inference_recognizer(model, str(syn_k400.video_root / video))
    scores = result.pred_scores.item
    assert scores.shape == (len(syn_k400.classes),) and torch.isfinite(scores).all()


# -- real sizes: build with random init, FLOPs ----------------------------------------------------
def _real(size: str, **overrides):
    cfg = load_config("vlc", size)
    from bench.method import apply_overrides

    apply_overrides(cfg, {"model.backbone.video_weights": None, "model.clip.clip_weights": None, **overrides})
    return cfg


@pytest.mark.slow
def test_videomae_b16_16x224_backbone_flops_and_params():
    """MMAction2 model zoo: VideoMAE ViT-B/16, 16x224x224: 180 GFLOPs per view, 87 M parameters."""
    from bench.flops import count_recognizer

    torch.set_num_threads(1)
    cfg = _real("videomae_b16_16f", **{"model.losses.text": False, "model.losses.image": False})
    model = _build(cfg.model).eval()
    info = get_method("vlc")
    with torch.no_grad():
        rep = count_recognizer(model, (3, 16, 224, 224), text_modules=info.text_modules,
                               exclude_modules=info.teacher_modules)
    assert 175 < rep.gflops_per_view < 185, rep.gflops_per_view
    assert 86.0 < rep.params_inference_m < 88.0, rep.params_inference_m
    # MMAction2's ViT computes the patch grid with an in-place floor division (no multiply-adds).
    assert set(rep.uncounted_ops) <= {"aten::floor_divide_"}, rep.uncounted_ops


@pytest.mark.slow
@pytest.mark.parametrize("size", ["umt_b16_8f", "umt_b16_16f", "umt_b16_32f", "videomae_b16_16f"])
def test_real_configs_build_with_a_clip_l14_teacher(size):
    torch.set_num_threads(1)
    cfg = _real(size)
    model = _build(cfg.model)
    assert model.teacher.width == 1024 and model.teacher.grid == (16, 16)  # CLIP ViT-L/14 at 224
    assert model.distill["proj"].out_features == 1024 and model.cls_head.text_dim == 768
    assert model.backbone.grid[1:] == (14, 14) and model.backbone.num_frames == cfg.num_frames
    assert model.cls_head.bank is None  # no CLIP weights: the bank waits for first use


# -- the effect on the synthetic world ------------------------------------------------------------
def _fewshot_top1(fresh_dirs, seed: int, **overrides) -> float:
    from bench import job
    from bench.spec import RunSpec

    spec = RunSpec(method="vlc", protocol="fewshot", dataset="syn_ucf", size="tiny", seed=seed,
                   protocol_args={"shots": 2}, overrides={"model.losses.image": False, **overrides})
    return float(job.run(spec)["metrics"]["top1"])


def test_world_text_separates_motion_twins(syn_k400):
    """The tiny CLIP's text tells motion twins apart (world, second edition: clip-level motion captions).

    Two syn_ucf classes sharing every appearance keyword (object, props, floor) and differing only in the
    motion: the mean cosine between a description of one and a description of the other is lower than the
    mean cosine between two different descriptions of the same class, for either class of the pair. (The
    first edition's text was blind to motion: twin centroids at cosine 0.96-0.99, above every other pair.)
    """
    from bench.data.catalog import get_dataset
    from methods.vlc import descriptions

    torch.set_num_threads(1)
    cfg = _tiny()
    opts = descriptions.text_options(cfg.model.cls_head.text, "test")
    bank = descriptions.collect(get_dataset("syn_ucf").classes, opts)
    texts, owner = bank.flat()
    emb = descriptions.embed_texts(texts, cfg.clip_arch, cfg.clip_weights)
    sim = emb @ emb.t()
    owner_t = torch.tensor(owner)
    look = [tuple(bank.keywords[c][:-1]) for c in bank.classes]  # keywords: appearance first, the motion last
    twins = [(i, j) for i in range(len(look)) for j in range(i + 1, len(look)) if look[i] == look[j]]
    assert twins, bank.keywords

    def within(i: int) -> float:
        rows = (owner_t == i).nonzero().flatten()
        assert len(rows) >= 2, f"class {bank.classes[i]!r} has fewer than two descriptions"
        block = sim[rows][:, rows]
        return float((block.sum() - block.diagonal().sum()) / (len(rows) * (len(rows) - 1)))

    for i, j in twins:
        cross = float(sim[owner_t == i][:, owner_t == j].mean())
        assert cross < min(within(i), within(j)), (bank.classes[i], bank.classes[j], cross, within(i), within(j))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "measured (world, second edition; tiny syn_ucf 2-shot, seeds 0-2, in the suite): L_ce 40 / 75 / 65, L_ce + "
    "L_text 30 / 55 / 70 (first edition: 60 / 60 / 60 vs 40 / 40 / 40); with an AVX2-only CPU's tiny CLIP "
    "(587cdbda) 40 / 75 / 65 against 35 / 70 / 65. Small world 61.1 vs 62.5 (+1.4, seed CI "
    "[-5.1, +7.9]): methods/vlc/README.md, "
    "'Second edition'. Cause measured there: the tiny CLIP's description embeddings place each class about as near "
    "to classes sharing a motion or a colour (cosine 0.47-0.74) as to its twin (0.55-0.61), so L_text gives the "
    "twins no usable target (supervised grid: twins 47.9 -> 39.6 with L_text, other classes 100 either way)"))
def test_text_loss_beats_ce_alone_few_shot(syn_k400, fresh_dirs):
    """Table 3's direction in 2-shot: L_ce + L_text beats L_ce alone (tiny syn_ucf, 5 classes, 20 test videos:
    one video = 5 points), per seed on seeds 0-2 (not worse on any seed, better on the mean)."""
    torch.set_num_threads(1)
    seeds = (0, 1, 2)
    ce = [_fewshot_top1(fresh_dirs, s, **{"model.losses.text": False}) for s in seeds]
    both = [_fewshot_top1(fresh_dirs, s) for s in seeds]
    better = all(b >= c for b, c in zip(both, ce, strict=True)) and sum(both) > sum(ce)
    assert better, {"L_ce": ce, "L_ce + L_text": both}


def test_gate_keywords_are_embedded_as_naclip_template_averages(syn_k400):
    # NACLIP (naclip.py, NACLIP.__init__): per query, the 80 ImageNet templates filled in, each embedding normalised,
    # averaged, normalised again. Computed here straight from open_clip's text encoder.
    import open_clip
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    from methods.vlc.head import keyword_embeddings
    from methods.vlc.teacher import shared_clip

    arch, weights = "vlbench-tiny-vit", "synthetic:tiny-clip"
    model, tok = shared_clip(arch, weights), open_clip.get_tokenizer(arch)
    words = ["red ball", "floor"]
    with torch.no_grad():
        ref = []
        for w in words:
            e = F.normalize(model.encode_text(tok([t(w) for t in OPENAI_IMAGENET_TEMPLATES])).float(), dim=-1)
            ref.append(F.normalize(e.mean(0), dim=-1))
        bare = F.normalize(model.encode_text(tok(words)).float(), dim=-1)
    assert len(OPENAI_IMAGENET_TEMPLATES) == 80
    got = keyword_embeddings(words, arch, weights, "naclip")
    assert torch.allclose(got, torch.stack(ref), atol=1e-5)
    assert torch.allclose(keyword_embeddings(words, arch, weights, "bare"), bare, atol=1e-5)
    assert not torch.allclose(got, bare, atol=1e-2)
    cfg = _tiny(**{"model.gate.type": "cross_attention", "model.gate.keyword_text": "bare"})
    assert _build(cfg.model).cls_head.keyword_text == "bare"
    with pytest.raises(ConfigError, match="keyword_text='plain'.*accepted"):
        _build(_tiny(**{"model.gate.keyword_text": "plain"}).model)
