"""alt (../shared/papers/alt_align_before_adapt.txt): ToMe, alignment, decoder, corpus, FLOPs and the recognizer."""

from __future__ import annotations

import json

import pytest
import torch

from bench.errors import ConfigError
from methods.alt.align import SemanticAligner, gumbel_assignment, straight_through
from methods.alt.decoder import DecoderBlock
from methods.alt.tome import bipartite_merge, check_merge_schedule, max_r, proportional_attention, reference_attention

TINY = "vlbench-tiny-vit"


# -- token merging ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("r", [1, 4, 8])
def test_tome_removes_exactly_r_and_keeps_class_token(r: int) -> None:
    g = torch.Generator().manual_seed(r)
    x = torch.randn(2, 1 + 17, 6, generator=g)
    x[:, 0] = 100.0  # a class token far from every patch: it would be merged first if it were eligible
    size = torch.ones(2, 18, 1)
    out, out_size = bipartite_merge(x, size, x, r)
    assert out.shape == (2, 18 - r, 6)
    assert torch.equal(out[:, 0], x[:, 0]) and torch.all(out_size[:, 0] == 1)
    assert torch.allclose(out_size.sum(dim=1), size.sum(dim=1))  # sizes add up to the input token count
    # a merged token is the size-weighted average of its members: the total sum(size * x) is conserved
    assert torch.allclose((out * out_size).sum(dim=1), (x * size).sum(dim=1), atol=1e-4)


def test_tome_merges_the_most_similar_pairs() -> None:
    # patches 0/1 (A0, B0) are identical, everything else far apart: r=1 merges exactly that pair
    x = torch.tensor([[[9.0, 9.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.3]]])
    out, size = bipartite_merge(x, torch.ones(1, 5, 1), x, 1)
    assert sorted(size.flatten().tolist()) == [1.0, 1.0, 1.0, 2.0]
    assert torch.allclose(out[0, size[0, :, 0] == 2], torch.tensor([[1.0, 0.0]]))


def test_tome_split_is_official_tomes_cls_and_odd_patches_against_even_patches() -> None:
    # Official ToMe (tome/merge.py, bipartite_soft_matching, class_token=True) alternates over [cls] + patches:
    # A = sequence positions 0, 2, 4 = {cls, p1, p3}, B = positions 1, 3 = {p0, p2}; cls scores are -inf.
    # By hand (cosines of the rows below): p1 -> p2 (0.9988) beats p1 -> p0 (0.953); p3 -> p0 (0.056) beats
    # p3 -> p2 (0.049). r = 2 merges both A patches: B0 = (p0 + p3) / 2 and B1 = (p1 + p2) / 2, sizes 2 and 2,
    # output order [unmerged A in sequence order (cls), B0, B1]. (Splitting the patches alone, A = {p0, p2},
    # B = {p1, p3}, would merge p0 and p2 both into p1: sizes 3 and 1.)
    cls = [0.0, 0.0, 1.0]
    p0, p1, p2, p3 = [1.0, 0.0, 0.3], [1.0, 0.1, 0.0], [1.0, 0.05, 0.0], [0.0, 1.0, 0.2]
    x = torch.tensor([[cls, p0, p1, p2, p3]])
    out, size = bipartite_merge(x, torch.ones(1, 5, 1), x, 2)
    assert size.flatten().tolist() == [1.0, 2.0, 2.0]
    expected = torch.tensor([cls, [(a + b) / 2 for a, b in zip(p0, p3)], [(a + b) / 2 for a, b in zip(p1, p2)]])
    assert torch.allclose(out[0], expected)
    # r = 1: only the best edge (p1 -> p2) merges; survivors: cls, p3 (A, sequence order), then B = p0, (p1 + p2) / 2
    out, size = bipartite_merge(x, torch.ones(1, 5, 1), x, 1)
    assert size.flatten().tolist() == [1.0, 1.0, 1.0, 2.0]
    assert torch.allclose(out[0], torch.tensor([cls, p3, p0, [(a + b) / 2 for a, b in zip(p1, p2)]]))


def test_tome_merge_weights_by_existing_sizes() -> None:
    # ToMe's merge_wavg: x' = sum(s x) / sum(s), s' = sum(s). A token of size 3 merged into one of size 1.
    x = torch.tensor([[[0.0, 0.0, 1.0], [2.0, 0.0, 0.0], [4.0, 0.0, 0.0]]])  # cls, p0 (B), p1 (A)
    size = torch.tensor([[[1.0], [1.0], [3.0]]])
    out, s = bipartite_merge(x, size, x, 1)
    assert s.flatten().tolist() == [1.0, 4.0]
    assert torch.allclose(out[0, 1], torch.tensor([(2.0 * 1 + 4.0 * 3) / 4, 0.0, 0.0]))


def test_merge_schedule_and_too_large_r() -> None:
    assert check_merge_schedule(196, 12, 8)[-1] == 196 - 96  # Eq. (3): N + 1 - L r tokens with the class token
    assert max_r(196, 12) == 15 and max_r(64, 3) == 16
    check_merge_schedule(64, 3, 16)
    with pytest.raises(ConfigError, match="tome_r=17 is too large.*0 <= r <= 16"):
        check_merge_schedule(64, 3, 17)


def test_proportional_attention_equals_plain_attention_with_unit_sizes() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    plain = reference_attention(q, k, v)
    assert torch.allclose(proportional_attention(q, k, v, torch.ones(2, 7, 1)), plain, atol=1e-5)
    assert torch.allclose(proportional_attention(q, k, v, None), plain, atol=1e-5)
    # a key of size 2 attends like two copies of itself
    k2, v2 = torch.cat([k, k[:, :, :1]], dim=2), torch.cat([v, v[:, :, :1]], dim=2)
    sizes = torch.ones(2, 7, 1)
    sizes[:, 0] = 2
    assert torch.allclose(proportional_attention(q, k, v, sizes), reference_attention(q, k2, v2), atol=1e-5)


def test_encoder_tokens_and_sizes_through_all_blocks() -> None:
    from methods.alt.encoder import RegionAwareEncoder

    torch.manual_seed(0)
    enc = RegionAwareEncoder(TINY, None, tome_r=8).eval()
    with torch.no_grad():
        tokens, sizes = enc(torch.randn(3, 3, 64, 64))
    assert tokens.shape[:2] == (3, 1 + 64 - 3 * 8) == (3, enc.out_tokens)
    assert torch.all(sizes.sum(dim=1) == 65) and torch.all(sizes[:, 0] == 1)
    with pytest.raises(ConfigError, match="too large"):
        RegionAwareEncoder(TINY, None, tome_r=17)


# -- alignment --------------------------------------------------------------------------------------------
def test_straight_through_is_one_hot_forward_and_soft_backward() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 5, 9, generator=g, requires_grad=True)
    weights = torch.randn(4, 5, 9, generator=g)
    soft = logits.softmax(-1)
    hard = straight_through(soft)
    assert torch.allclose(hard.detach(), torch.nn.functional.one_hot(soft.argmax(-1), 9).float(), atol=1e-6)
    (grad_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    (grad_soft,) = torch.autograd.grad((logits.softmax(-1) * weights).sum(), logits)
    assert torch.allclose(grad_hard, grad_soft, atol=1e-6) and grad_hard.abs().sum() > 0


def test_gumbel_noise_only_in_training_and_aligner_shapes() -> None:
    sim = torch.randn(2, 3, 5)
    assert torch.allclose(gumbel_assignment(sim, 1.0, noise=False), sim.softmax(-1))
    assert not torch.allclose(gumbel_assignment(sim, 1.0, noise=True), sim.softmax(-1))
    ents = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    al = SemanticAligner(ents, out_dim=16).eval()
    tokens = torch.randn(2, 3, 8)
    a1, a2 = al.assignment(tokens), al.assignment(tokens)
    assert torch.equal(a1, a2) and torch.allclose(a1.sum(-1), torch.ones(2, 3))  # deterministic evaluation
    assert al(tokens).shape == (2, 16)


def test_gumbel_assignment_agrees_with_the_clean_argmax_under_the_logit_scale() -> None:
    # Fixed input: 16 unit "entities" in 8-d and 500 tokens each a noisy copy of one entity. Cosine gaps between
    # the best and second entity are ~0.1-0.3, far below Gumbel(0, 1)'s std of 1.28 but far above it times 1/100.
    g = torch.Generator().manual_seed(0)
    ents = torch.nn.functional.normalize(torch.randn(16, 8, generator=g), dim=-1)
    tokens = ents[torch.randint(0, 16, (500,), generator=g)] + 0.3 * torch.randn(500, 8, generator=g)
    sim = torch.nn.functional.normalize(tokens, dim=-1) @ ents.t()
    clean = sim.argmax(-1)
    agree = {}
    for scale in (1.0, 100.0):
        noisy = gumbel_assignment(sim * scale, 1.0, noise=True, generator=torch.Generator().manual_seed(1))
        agree[scale] = (noisy.argmax(-1) == clean).float().mean().item()
    assert agree[100.0] >= 0.9, agree
    assert agree[1.0] < 0.5, agree  # the literal reading: the noise decides most assignments
    al = SemanticAligner(ents, out_dim=4, logit_scale=100.0).train()
    torch.manual_seed(2)
    assert (al.assignment(tokens.unsqueeze(0)).argmax(-1)[0] == clean).float().mean() >= 0.9


def test_clip_logit_scale_is_the_learned_one_and_bad_values_are_refused() -> None:
    from methods.alt.recognizer import clip_logit_scale
    from methods.baselines.clip_meanpool import _shared_clip

    assert clip_logit_scale(TINY, None, "clip") == pytest.approx(_shared_clip(TINY, None).logit_scale.exp().item())
    assert clip_logit_scale(TINY, None, 1.0) == 1.0
    for bad in (0, -1.0, "learned", True):
        with pytest.raises(ConfigError, match="logit_scale"):
            clip_logit_scale(TINY, None, bad)


def test_eq6_hard_and_soft_assignment_and_size_weighted_pooling() -> None:
    # Two entities e0, e1; one frame with tokens t0 (size 3) aligned to e0 and t1 (size 1) aligned to e1.
    ents = torch.eye(2, 4)
    tokens = torch.tensor([[[2.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]])
    sizes = torch.tensor([[[3.0], [1.0]]])
    cos = torch.nn.functional.normalize(tokens, dim=-1) @ ents.t()  # [[2, 1], [0, 1]] / |t|
    soft = (cos * 10.0).softmax(-1)  # eval mode: no noise, tau = 1, logit scale 10
    hard = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    for mode, a in (("hard", hard), ("soft", soft[0])):
        for pool, w in (("size", torch.tensor([0.75, 0.25])), ("mean", torch.tensor([0.5, 0.5]))):
            al = SemanticAligner(ents, out_dim=3, logit_scale=10.0, assignment=mode, pool=pool).eval()
            pooled = (w[:, None] * (a @ ents)).sum(0)  # sum_l w_l (A S)_l
            assert torch.allclose(al(tokens, sizes)[0], al.mlp(pooled), atol=1e-6), (mode, pool)
    with pytest.raises(ConfigError, match="accepted"):
        SemanticAligner(ents, out_dim=3, assignment="argmax")
    with pytest.raises(ConfigError, match="accepted"):
        SemanticAligner(ents, out_dim=3, pool="max")


# -- decoder ----------------------------------------------------------------------------------------------
def test_decoder_without_sa_and_conv_is_cross_attention_only() -> None:
    torch.manual_seed(0)
    blk = DecoderBlock(16, 2, sa=False, conv=False).eval()
    assert blk.sa is None and blk.conv is None
    q, x = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    kv = blk.ca_norm_x(x)
    ref = q + blk.ca(blk.ca_norm_q(q), kv, kv, need_weights=False)[0]
    ref = ref + blk.ffn(blk.ffn_norm(ref))
    assert torch.allclose(blk(q, x), ref, atol=1e-6)
    full = DecoderBlock(16, 2, sa=True, conv=True)
    assert full.sa is not None and full.conv is not None


# -- corpus -----------------------------------------------------------------------------------------------
def _write_corpus(home, dataset: str, entities: list[dict]) -> None:
    path = home / "text" / dataset / "entity_corpus" / "offline-files.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"entities": entities, "resources": {"stop_words": "test", "wordnet": "test"}}))


def test_corpus_sub_collections_and_missing_sub_collection(tmp_path, monkeypatch) -> None:
    from methods.alt.corpus import load_entities

    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    ents = [
        {"unit": "head", "description": "the top of the body", "category": "body", "classes": []},
        {"unit": "guitar", "description": "a string instrument", "category": "object", "classes": ["playing guitar"]},
        {"unit": "playing", "description": "doing an activity", "category": "label", "classes": ["playing guitar"]},
        {"unit": "stage", "description": "a raised floor", "category": "scene", "classes": ["playing guitar"]},
    ]
    _write_corpus(tmp_path, "toy", ents)
    got = {e["unit"]: e["sub_collection"] for e in load_entities(["toy"], subsets=["body", "object", "scene"])}
    assert got == {"head": "body", "guitar": "object", "stage": "scene"}
    assert [e["unit"] for e in load_entities(["toy"], subsets=["motion"])] == ["playing"]
    _write_corpus(tmp_path, "toy2", ents[:2])
    with pytest.raises(ConfigError, match=r"no entity of sub-collection\(s\) \['scene'\]"):
        load_entities(["toy2"], subsets=["body", "scene"])
    with pytest.raises(ConfigError, match="accepted"):
        load_entities(["toy"], subsets=["colour"])
    # an artefact that does not say which linguistic resources built it is refused, with the rebuild command
    old = tmp_path / "text" / "old" / "entity_corpus" / "offline-files.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"entities": ents}))
    with pytest.raises(ConfigError, match="does not record the linguistic resources.*bench text build --method alt"):
        load_entities(["old"])


# -- the recognizer ---------------------------------------------------------------------------------------
def _build(size: str, overrides: dict | None = None, strip: bool = False):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from bench.job_flops import _strip_weights
    from bench.method import apply_overrides, load_config

    init_default_scope("mmaction")
    cfg = load_config("alt", size)
    apply_overrides(cfg, overrides or {})
    model_cfg = cfg.model.to_dict()
    if strip:
        _strip_weights(model_cfg)
    return cfg, MODELS.build(model_cfg).eval()


def test_tiny_trains_one_step_and_scores_new_class_names(syn_k400) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    _, model = _build("tiny")
    bb = model.backbone
    assert bb.corpus_info["entities"] > 0 and set(bb.corpus_info["by_sub_collection"]) == {
        "body", "object", "scene", "motion"}
    x = torch.randn(2, 3, 8, 64, 64)
    model.train()
    z = bb(x)
    loss = torch.nn.functional.cross_entropy(model.cls_head(z), torch.tensor([0, 1]))
    loss.backward()
    assert bb.aligner.mlp[1].weight.grad.abs().sum() > 0  # the straight-through path carries gradient
    assert bb.encoder.visual.conv1.weight.grad.abs().sum() > 0  # ... down into the image encoder
    model.eval()
    with torch.no_grad():
        feats = model.video_features(x.unsqueeze(1).expand(-1, 2, -1, -1, -1, -1))
        assert feats.shape == (2, bb.head_mlp[1].out_features)
        assert torch.equal(model.backbone(x), model.backbone(x))  # deterministic evaluation
        model.set_class_names(["a", "b", "c"])
        assert model.cls_head(feats).shape == (2, 3)


@pytest.mark.parametrize("overrides", [
    {"model.backbone.query_source": "learnable"},
    {"model.backbone.align": False, "model.backbone.tome_r": 0, "model.backbone.region": False},
    {"model.backbone.frozen": True, "model.backbone.adapters": "STM"},
    {"model.backbone.decoder_sa": False, "model.backbone.decoder_conv": False},
])
def test_ablation_switches_build_and_run(overrides, syn_k400) -> None:
    torch.set_num_threads(1)
    _, model = _build("tiny", overrides)
    with torch.no_grad():
        assert model.backbone(torch.randn(1, 3, 8, 64, 64)).shape[0] == 1
    if overrides.get("model.backbone.frozen"):
        trainable = [n for n, p in model.backbone.encoder.named_parameters() if p.requires_grad]
        assert trainable and all(n.split(".")[0] in ("s_adapters", "t_adapters", "m_adapters") for n in trainable)


def test_bad_inputs_fail_at_build_time(syn_k400) -> None:
    with pytest.raises(ConfigError, match="tome_r=17 is too large"):
        _build("tiny", {"model.backbone.tome_r": 17})
    with pytest.raises(ConfigError, match="accepted"):
        _build("tiny", {"model.backbone.corpus.subsets": ["colour"]})
    with pytest.raises(ConfigError, match="query_source"):
        _build("tiny", {"model.backbone.query_source": "random"})


def test_inference_recognizer_on_a_synthetic_video(syn_k400) -> None:
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench.data.catalog import read_annotation_list
    from bench.method import get_method

    torch.set_num_threads(1)
    model = init_recognizer(str(get_method("alt").config_path("tiny")), device="cpu")
    video, _ = read_annotation_list(syn_k400.split_file("val"))[0]
    result = inference_recognizer(model, str(syn_k400.video_root / video))
    scores = result.pred_scores.item
    assert scores.shape == (len(syn_k400.classes),) and torch.isfinite(scores).all()


# -- FLOPs and parameters against the paper (Tables 1 and 8) --------------------------------------------------
PAPER_FLOPS = [  # (size, r, GFLOPs per view): Table 8 (single view) and Table 1 (total / 3 views)
    ("b16_8f", 0, 141), ("b16_8f", 4, 129), ("b16_8f", 8, 110), ("b16_8f", 13, 86),
    ("b16_16f", 8, 657 / 3), ("b16_32f", 8, 1308 / 3), ("l14_8f", 8, 1245 / 3),
]


@pytest.mark.slow
@pytest.mark.parametrize(("size", "r", "paper"), PAPER_FLOPS)
def test_flops_per_view_match_the_paper(size: str, r: int, paper: float) -> None:
    from bench.flops import count_recognizer

    torch.set_num_threads(2)
    overrides = {"model.backbone.tome_r": r, "model.backbone.region": r > 0,
                 "model.backbone.corpus.datasets": ["no_corpus_here"],  # 6000 placeholder entities (README)
                 "model.cls_head.class_names": ["a", "b"]}  # 400 x 16 prompts would only cost memory, no FLOPs
    cfg, model = _build(size, overrides, strip=True)
    with torch.no_grad():
        rep = count_recognizer(model, (3, cfg.num_frames, 224, 224), text_modules=("cls_head.text",))
    assert rep.uncounted_ops == {}
    assert abs(rep.gflops_per_view - paper) / paper < 0.03, (size, r, rep.gflops_per_view, paper)
    if size in ("b16_8f", "l14_8f") and r == 8:
        params = rep.params_m - rep.params_text_m  # Table 1 leaves the text branch out
        paper_params = {"b16_8f": 124.6, "l14_8f": 427.1}[size]
        gap = abs(params - paper_params) / paper_params
        if size == "l14_8f" and gap >= 0.03:
            # FLOPs above are asserted; the parameter count is a known, documented gap: the decoder that gives
            # B/16's 124.6 M gives 406.4 M at L/14 width (README: FLOPs and parameters)
            pytest.xfail(f"ALT-L/14 parameters {params:.1f} M vs the paper's 427.1 M ({100 * gap:.1f} % off)")
        assert gap < 0.03, (size, params, paper_params)


def test_flops_classes_option_cuts_the_class_names() -> None:
    from bench.cli.flops import limit_classes
    from bench.data.labels import resolve_class_names
    from bench.method import load_config

    cfg = load_config("alt", "b16_8f")  # class_names: kinetics400.csv (400 names x 16 templates to encode)
    names = resolve_class_names(cfg.model.cls_head.class_names, where="test")
    assert len(names) == 400
    assert limit_classes(cfg.model, 3) == 3
    assert cfg.model.cls_head.class_names == names[:3]
    assert cfg.model.data_preprocessor.blending.num_classes == 3  # Mixup's one-hot follows the head
    with pytest.raises(ConfigError, match="--classes 0"):
        limit_classes(cfg.model, 0)


def test_real_configs_carry_appendix_b_recipe() -> None:
    from bench.method import load_config
    from bench.text.templates import ensemble

    for size in ("b16_8f", "b16_32f", "l14_8f"):
        cfg = load_config("alt", size)
        assert cfg.model.data_preprocessor.blending == dict(type="MixupBlending", num_classes=400, alpha=0.8)
        assert cfg.model.cls_head.label_smooth_eps == 0.1
        assert list(cfg.model.cls_head.templates) == list(ensemble("actionclip"))  # X-CLIP's (Eq. 10's) templates
        assert cfg.model.backbone.logit_scale == "clip" and cfg.model.backbone.assignment == "hard"


# -- the effect on the synthetic world ------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "measured (world, second edition; in the suite, one thread): corpus 60 / 70 / 75, learnable 75 / 75 / 60 "
    "(first edition: 80 / 80 / 80 vs 75 / 80 / 75); with an AVX2-only CPU's tiny CLIP (587cdbda) 75 / 55 / 75 "
    "against 70 / 60 / 75; the sign changes with the seed. Small world (alt_corpus grid): "
    "0-shot +13.2 / +22.6 / +11.1 with the object / scene / motion corpus, CI excluding 0, but all +0.3 and "
    "2-shot +0.0. Cause: colour words sit in the body sub-collection and win most frames' argmax (methods/alt/"
    "README.md, 'Second edition')"))
def test_entity_aligned_queries_beat_learnable_queries_few_shot(syn_k400, fresh_dirs) -> None:
    """Table C3 row 1's direction: queries aligned to the corpus's entities (Eq. 4 scaled by CLIP's logit scale,
    the alignment fix) beat random learnable queries, 2-shot tiny syn_ucf (20 test videos: one video = 5 points),
    3 epochs, corpus expanded with the target's labels (appendix B), per seed on seeds 0-2 (not worse on any seed,
    better on the mean)."""
    from bench import job
    from bench.spec import RunSpec

    torch.set_num_threads(1)
    top1: dict[str, list[float]] = {"corpus": [], "learnable": []}
    for source in top1:
        over = {"model.backbone.query_source": source}
        if source == "corpus":
            over["model.backbone.corpus.datasets"] = ["syn_k400", "syn_ucf"]
        for seed in (0, 1, 2):
            spec = RunSpec(method="alt", protocol="fewshot", dataset="syn_ucf", size="tiny", seed=seed,
                           protocol_args={"shots": 2, "epochs": 3}, overrides=over)
            top1[source].append(float(job.run(spec)["metrics"]["top1"]))
    pairs = list(zip(top1["corpus"], top1["learnable"], strict=True))
    assert all(c >= learn for c, learn in pairs) and sum(top1["corpus"]) > sum(top1["learnable"]), top1
