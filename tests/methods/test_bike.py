"""bike: VCS, attribute retrieval, Eq. (4) fusion, Distributed InfoNCE, FLOPs, the synthetic-world effects,
MMAction2's inference API and every declared protocol."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch

from bench.errors import ConfigError
from methods.bike.attributes import attribute_sentence, resolve_lexicon, retrieve
from methods.bike.head import fuse
from methods.bike.losses import distributed_infonce, symmetric_infonce
from methods.bike.vcs import category_scores, concept_saliency

TINY = "vlbench-tiny-vit"


def _build(cfg_model):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    register_all_modules()
    return MODELS.build(cfg_model)


def _tiny_cfg(weights=None, **head):
    from bench.method import load_config

    cfg = load_config("bike", "tiny")
    for node in (cfg.model.backbone, cfg.model.cls_head, cfg.model.cls_head.attributes.encoder,
                 cfg.model.cls_head.attributes.teacher):
        node.clip_weights = weights
    cfg.model.cls_head.class_names = ["red square sliding left", "blue circle rising", "green ring falling"]
    cfg.model.cls_head.attributes.lexicon = ["red square", "blue circle", "green ring", "a ball", "striped floor",
                                             "sliding left"]
    cfg.model.cls_head.attributes.cache = False
    cfg.model.cls_head.update(head)
    return cfg


# -- VCS (Eqs. 5-6) -------------------------------------------------------------------------------------------
def test_saliency_sums_to_one_over_frames_for_every_video_and_category():
    g = torch.Generator().manual_seed(0)
    frames, words = torch.randn(3, 7, 16, generator=g), torch.randn(4, 5, 16, generator=g)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], dtype=torch.bool)
    for temperature in (0.01, 0.1, 1.0):
        sal = concept_saliency(frames, words, mask, temperature)
        assert sal.shape == (3, 4, 7)
        assert torch.allclose(sal.sum(dim=-1), torch.ones(3, 4), atol=1e-6)
        assert (sal >= 0).all()
    sharp = concept_saliency(frames, words, mask, 0.01)
    assert sharp.max() > 0.5, "a low temperature concentrates the saliency on few frames"


def test_uniform_word_frame_similarity_reduces_vcs_to_mean_pooling():
    """Words orthogonal to every frame: equal similarity everywhere, uniform saliency, VCS == mean pooling
    (in the paper's reading: cosine of the spotted video, mean of the normalised frames)."""
    g = torch.Generator().manual_seed(1)
    frames = torch.cat([torch.randn(2, 6, 4, generator=g), torch.zeros(2, 6, 4)], dim=-1)  # span e1..e4
    words = torch.cat([torch.zeros(3, 2, 4), torch.randn(3, 2, 4, generator=g)], dim=-1)  # span e5..e8
    mask = torch.ones(3, 2, dtype=torch.bool)
    cls = torch.randn(3, 8, generator=g)
    sal = concept_saliency(frames, words, mask)
    assert torch.allclose(sal, torch.full_like(sal, 1 / 6), atol=1e-6)
    vcs = category_scores(frames, cls, words, mask, "vcs", renormalise=True)
    mean = category_scores(frames, cls, aggregation="mean", mean_pool="normalised")
    assert torch.allclose(vcs, mean, atol=1e-6)
    informative = category_scores(frames, cls, torch.randn(3, 2, 8, generator=g), mask, "vcs", renormalise=True)
    assert not torch.allclose(informative, mean, atol=1e-3), "informative words change the pooling"


# -- attributes (Sec. 2.2) --------------------------------------------------------------------------------------
def test_attribute_retrieval_returns_the_top_n_lexicon_entries():
    lexicon = torch.eye(6)  # phrase k points along axis k
    video = torch.tensor([[0.1, 0.9, 0.0, 0.5, 0.3, 0.0], [1.0, 0.0, 0.2, 0.0, 0.0, 0.7]])
    scores, idx = retrieve(video, lexicon, 3)
    assert idx.tolist() == [[1, 3, 4], [0, 5, 2]]
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    phrases = ["running", "juggling soccer ball", "grass", "shooting goal", "crowd", "kicking"]
    assert attribute_sentence([phrases[i] for i in idx[0]]) == \
        "This is a video about juggling soccer ball, shooting goal, crowd"


def test_bad_attribute_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="lexicon is empty"):
        resolve_lexicon([])
    with pytest.raises(ConfigError, match="lexicon is empty"):
        resolve_lexicon(["  ", ""])
    with pytest.raises(ConfigError, match="n=7 attributes asked from a lexicon of 6"):
        retrieve(torch.randn(2, 6), torch.eye(6), 7)
    with pytest.raises(ConfigError, match="between 1 and the lexicon size 6"):
        _build(_tiny_cfg_with(num=7))


def _tiny_cfg_with(**attributes):
    cfg = _tiny_cfg()
    cfg.model.cls_head.attributes.update(attributes)
    return cfg.model


def test_a_category_name_that_tokenises_to_nothing_is_refused():
    cfg = _tiny_cfg()
    cfg.model.cls_head.class_names = ["red square sliding left", ""]
    with pytest.raises(ConfigError, match="tokenises to no word token"):
        _build(cfg.model)
    cfg = _tiny_cfg()
    cfg.model.cls_head.attributes.lexicon = []
    with pytest.raises(ConfigError, match="lexicon is empty"):
        _build(cfg.model)


def test_fusion_weight_interpolates_exactly():
    g = torch.Generator().manual_seed(2)
    pv, pa = torch.rand(4, 5, generator=g).softmax(-1), torch.rand(4, 5, generator=g).softmax(-1)
    assert torch.equal(fuse(pv, pa, 1.0), pv) and torch.equal(fuse(pv, pa, 0.0), pa)
    for w in (0.25, 0.6, 0.8):
        assert torch.allclose(fuse(pv, pa, w), w * pv + (1 - w) * pa, atol=0, rtol=0)
    with pytest.raises(ConfigError, match="fusion_weight"):
        fuse(pv, pa, 1.5)
    # in the model: the fused prediction is the weighted sum of the branches' class probabilities
    torch.manual_seed(0)
    model = _build(_tiny_cfg(train_branches=["video"]).model).eval()
    model.cls_head.attr["fusion_weight"] = 0.3
    x = torch.randn(2, 3, 8, 64, 64)
    head = model.cls_head
    with torch.no_grad():
        frames = model.backbone(x)
        fused = head.predict_scores(frames, 1, x, None)
        video = head.video_scores(frames, head.video_categories()).softmax(-1)
        attr = head.attribute_scores(head.attribute_sentences(x, None), head.attr_categories()).softmax(-1)
    assert torch.allclose(fused, 0.3 * video + 0.7 * attr, atol=1e-6)


# -- Distributed InfoNCE (appendix A.6) -------------------------------------------------------------------------
def _global_batch():
    g = torch.Generator().manual_seed(3)
    frames = torch.randn(8, 4, 16, generator=g)
    words, cls = torch.randn(5, 3, 16, generator=g), torch.randn(5, 16, generator=g)
    labels = torch.tensor([0, 1, 1, 4, 2, 0, 3, 1])
    return frames, words, cls, labels


def _pairs(words, cls):
    mask = torch.ones(words.shape[:2], dtype=torch.bool)

    def pair_logits(all_frames, all_labels):
        return category_scores(all_frames, cls[all_labels], words[all_labels], mask[all_labels]) / 0.01

    return pair_logits


def _dist_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        frames, words, cls, labels = _global_batch()
        n = frames.shape[0] // world
        local = frames[rank * n:(rank + 1) * n].clone().requires_grad_(True)
        loss = distributed_infonce((local,), labels[rank * n:(rank + 1) * n], _pairs(words, cls))
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": local.grad}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_distributed_infonce_equals_the_single_process_loss(tmp_path, monkeypatch):
    import pathlib

    import torch.multiprocessing as mp

    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[2]))  # spawned ranks import this module

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_dist_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    frames, words, cls, labels = _global_batch()
    full = frames.clone().requires_grad_(True)
    single = symmetric_infonce(_pairs(words, cls)(full, labels), labels)
    single.backward()
    outs = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for r, out in enumerate(outs):
        assert torch.allclose(out["loss"], single.detach(), atol=1e-6), (r, out["loss"], single)
        # each rank's rows get the gradient of every rank's (identical) loss: 2x; DDP's mean over ranks undoes it
        assert torch.allclose(out["grad"], 2 * full.grad[r * 4:(r + 1) * 4], atol=1e-5)


def test_infonce_targets_are_uniform_over_items_of_the_same_category():
    logits = torch.tensor([[4.0, 1.0, 0.0], [2.0, 3.0, 0.0], [0.0, 1.0, 5.0]])
    labels = torch.tensor([7, 7, 2])
    t = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    rows = -(t * logits.log_softmax(1)).sum(1).mean()
    cols = -(t * logits.t().log_softmax(1)).sum(1).mean()
    assert torch.allclose(symmetric_infonce(logits, labels), (rows + cols) / 2)


# -- FLOPs -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_vit_b16_8f_video_branch_flops_are_eight_clip_images_plus_vcs_and_head():
    from bench.flops import count_flops, count_recognizer
    from bench.method import load_config

    torch.set_num_threads(1)
    cfg = load_config("bike", "b16_8f")
    cfg.model.backbone.clip_weights = cfg.model.cls_head.clip_weights = None
    names = ["abseiling", "air drumming", "answering questions", "applauding", "applying cream"]
    cfg.model.cls_head.class_names = names
    cfg.model.cls_head.attributes.enabled = False  # the video branch alone
    cfg.model.cls_head.train_branches = ["video"]
    model = _build(cfg.model).eval()
    head = model.cls_head
    assert head.attributes_used is False
    per_frame = count_flops(model.backbone.visual, (torch.zeros(1, 3, 224, 224),)).gflops_per_view
    assert 17.4 < per_frame < 17.7, per_frame  # CLIP ViT-B/16 at 224^2
    temporal = count_flops(model.backbone.temporal, (torch.zeros(1, 8, 512),)).gflops_per_view
    cats = head.video_categories()
    c, w, d = cats["words"].shape
    vcs_head = (c * w * 8 * d + c * 8 * d + c * d) / 1e9  # word-frame sims, Eq. (6) sum, cosine with [CLS]
    total = count_recognizer(model, (3, 8, 224, 224)).gflops_per_view
    assert total == pytest.approx(8 * per_frame + temporal + vcs_head, rel=1e-6)
    assert vcs_head < 0.01 and temporal < 0.2


# -- the synthetic world ----------------------------------------------------------------------------------------
def _rendered_clips(ds, brief: bool, per_class: int, seed: int):
    from bench.data.synthetic.render import class_clips

    frames, ys, _ = class_clips(json.loads((ds.video_root / "class_info.json").read_text()), per_class, seed, brief)
    x = torch.from_numpy(frames).float().permute(0, 4, 1, 2, 3)
    mean = torch.tensor([122.770938, 116.7460125, 104.09373615])[None, :, None, None, None]
    std = torch.tensor([68.5005327, 66.6321579, 70.32316305])[None, :, None, None, None]
    return (x - mean) / std, torch.tensor(ys)


@pytest.fixture(scope="module")
def training_free_branches(syn_k400):
    """Top-1 of mean pooling, VCS, attributes alone and V+A (Eq. 4) on rendered brief and full clips, training-free
    (no temporal layers), tiny CLIP, seed 0, 15 clips per class; computed once for the two tests below."""
    from bench.method import load_config

    torch.set_num_threads(1)
    assert syn_k400.split_file("val_brief").exists()  # the dataset's own brief clips (too few on tiny to test on)
    cfg = load_config("bike", "tiny")
    cfg.model.backbone.temporal_layers = 0  # training-free: no randomly initialised layer
    cfg.model.cls_head.train_branches = ["video"]
    model = _build(cfg.model).eval()
    head = model.cls_head
    chance = 100 / len(syn_k400.classes)
    acc = {}
    for brief in (True, False):
        x, y = _rendered_clips(syn_k400, brief, 15, seed=0)
        with torch.no_grad():
            frames = model.backbone(x)
            for agg in ("mean", "vcs"):
                head.aggregation = agg
                scores = head.video_scores(frames, head.video_categories())
                acc[(brief, agg)] = 100 * (scores.argmax(1) == y).float().mean()
            attr = head.attribute_scores(head.attribute_sentences(x, None), head.attr_categories())
            acc[(brief, "attr")] = 100 * (attr.argmax(1) == y).float().mean()
            # Eq. (4) as the public code's validate: softmax of each branch, 0.7 x video + 0.3 x attributes
            fused = 0.7 * scores.softmax(-1) + 0.3 * attr.softmax(-1)
            acc[(brief, "v+a")] = 100 * (fused.argmax(1) == y).float().mean()
    return acc, chance


# the training-free figures ride on the tiny CLIP's weights, which follow the CPU's kernels (docs/DECISIONS.md):
# measured with c1a7aacf (AVX-512 AMD EPYC VMs) unless said
AVX2_FIGURES = ("brief clips: mean 38.3, VCS 35.0, attributes 20.8, V+A 39.2; full clips: mean 75.0, VCS 75.0, "
                "attributes 42.5, V+A 78.3 (120 clips each)")
VCS_MEASURED = {
    "587cdbda": f"AVX2-only AMD EPYC, {AVX2_FIGURES}: VCS below mean pooling on brief clips (-3.3). Cause "
                "measured (benchmarks/bike_vcs_saliency.py): VCS does find the actor, the true class putting 0.42 "
                "of its saliency on the 0.20 of the frames that show it, but each class spots the frames that fit "
                "it best, and 78 of the 120 predictions go to a class that spotted the empty frames (0.22 of its "
                "saliency on the actor's) and shares the true class's floor colour (0.79, against 0.32 for two "
                "classes): with these weights a scene-only frame matches the words of a class with that scene "
                "better than the actor's frames match the true class",
}
VA_ABSENT = (
    "measured, training-free, tiny world, seed 0 (120 clips each): V+A 49.2 vs V (VCS) 61.7 on brief clips, "
    "55.8 vs 74.2 on full clips; attributes alone 22.5 / 33.3. Cause: the setting, not the paper's; training-free, "
    "the attribute head's two MLPs keep their random init, and the fused argmax follows the weaker branch. The "
    "paper's V+A is after training both branches (bike's Table 6 grids, methods/bike/README.md)")
VA_MEASURED = {"587cdbda": None}  # AVX2-only AMD EPYC: V+A 39.2 vs VCS 35.0 (brief), 78.3 vs 75.0 (full)


def _figures(acc) -> str:
    return str({f"{'brief' if b else 'full'} {k}": round(float(v), 1) for (b, k), v in acc.items()})


@pytest.mark.slow
def test_vcs_beats_mean_pooling_on_brief_clips(training_free_branches, verdict_for_weights):
    """Training-free, tiny CLIP, seed 0, the public code's VCS and 'DP' (the defaults). Measured on the world's
    second edition: brief clips VCS 61.7 vs mean 25.0 (+36.7); full clips VCS 74.2 vs mean 74.2 (0) (first
    edition: VCS 84.2 vs 60.8, full 85.8 vs 87.5). Asserted: a third of the brief-clip margin, full clips within
    2 points. A strict xfail with the weights where it was measured absent (``VCS_MEASURED``)."""
    verdict_for_weights(VCS_MEASURED, None)
    acc, _ = training_free_branches
    assert acc[(True, "vcs")] - acc[(True, "mean")] >= 12.0, _figures(acc)
    assert acc[(False, "vcs")] >= acc[(False, "mean")] - 2.0, _figures(acc)


@pytest.mark.slow
def test_attributes_alone_beat_chance(training_free_branches):
    """Attributes alone, training-free: 22.5 (brief) / 33.3 (full) with the AVX-512 machines' tiny CLIP, 20.8 /
    42.5 with an AVX2-only CPU's, chance 12.5 (first edition: 38.3 / 54.2). Asserted: 1.5x / 2x chance (over 120
    clips, 3.3 and 6.9 binomial standard deviations above chance)."""
    acc, chance = training_free_branches
    assert acc[(True, "attr")] >= 1.5 * chance and acc[(False, "attr")] >= 2 * chance, _figures(acc)


@pytest.mark.slow
def test_video_and_attributes_beat_video_alone(training_free_branches, verdict_for_weights):
    """Eq. (4)'s fusion (0.7 x video + 0.3 x attributes) beats the video branch alone, on brief and on full clips.
    A strict xfail where it was measured absent (``VA_ABSENT``: every machine measured but the AVX2-only one)."""
    verdict_for_weights(VA_MEASURED, VA_ABSENT)
    acc, _ = training_free_branches
    assert acc[(True, "v+a")] > acc[(True, "vcs")] and acc[(False, "v+a")] > acc[(False, "vcs")], _figures(acc)


# -- MMAction2 API and protocols --------------------------------------------------------------------------------
@pytest.mark.slow
def test_init_and_inference_recognizer_on_a_synthetic_mp4(syn_k400):
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench.data.catalog import read_annotation_list
    from bench.method import get_method

    model = init_recognizer(str(get_method("bike").config_path("tiny")), device="cpu")
    video, label = read_annotation_list(syn_k400.split_file("val"))[0]
    result = inference_recognizer(model, str(syn_k400.video_root / video))
    scores = result.pred_scores.item
    assert scores.shape == (len(syn_k400.classes),)
    assert torch.isfinite(scores).all() and abs(float(scores.sum()) - 1) < 1e-4  # fused class probabilities


@pytest.mark.slow
@pytest.mark.parametrize("protocol,args", [
    ("supervised", {"views": "2x1"}),
    ("zeroshot", {"mode": "full"}),
    ("fewshot", {"shots": 2}),
    ("linear_probe", {"splits": [1]}),
])
def test_every_declared_protocol_runs(syn_k400, fresh_dirs, protocol, args):
    from bench import job
    from bench.method import get_method
    from bench.spec import RunSpec

    assert protocol in get_method("bike").protocols
    dataset = {"zeroshot": "syn_ucf", "fewshot": "syn_ucf", "linear_probe": "syn_ucf"}.get(protocol, "syn_k400")
    spec = RunSpec("bike", protocol, dataset, protocol_args=args, overrides={"train_cfg.max_epochs": 1})
    rec = job.run(spec)
    assert 0 <= rec["metrics"]["top1"] <= 100
    assert rec["flops"]["gflops_per_view"] > 0


# -- configs ---------------------------------------------------------------------------------------------------
def test_every_size_has_a_config_with_its_frames_resolution_and_paper_settings():
    from bench.method import get_method, load_config

    info = get_method("bike")
    assert len(info.sizes) == 14  # tiny, 12 paper sizes, BIKE's released K400 model (b16_8f_release)
    for size in info.sizes:
        cfg = load_config("bike", size)
        head, attrs = cfg.model.cls_head, cfg.model.cls_head.attributes
        clip_lens = {s["clip_len"] for s in cfg.train_pipeline + cfg.test_pipeline if "clip_len" in s}
        assert clip_lens == {cfg.num_frames}, size
        assert any("filename" in s.get("meta_keys", ()) for s in cfg.test_pipeline), size
        assert head.temperature == 0.01 and head.vcs_temperature == 0.01 and head.aggregation == "vcs"
        # the public code's readings are the defaults (methods/bike/README.md, "Public code vs paper")
        assert (head.vcs_words, head.vcs_renormalise, head.mean_pool) == ("context", False, "raw"), size
        assert (head.logit_scale, head.test_temperature, head.loss, attrs.train) == ("learned", 1.0, "nce_kl", "mlp")
        assert cfg.model.backbone.get("temporal_act", "quick_gelu") == "quick_gelu", size
        assert cfg.param_scheduler[0]["start_factor"] < 1e-6, "the public warm-up starts at 0"
        if size == "tiny":
            continue
        if size.endswith("_release"):  # evaluated as released: the Video branch, weights from BIKE's file
            assert not attrs.enabled and cfg.model.backbone.temporal_weights == "bike-vit-b16-k400"
            continue
        frames = int(size.split("_")[-1].rstrip("f"))
        assert cfg.num_frames == frames and cfg.img_size == (336 if "336" in size else 224)
        assert cfg.model.backbone.temporal_layers == 6 and attrs.num == 5
        assert attrs.teacher.clip_arch == "ViT-L-14" and attrs.teacher.num_frames == 8
        assert attrs.fusion_weight == (0.8 if size.startswith("l14") else 0.7)  # public fusion_acc: 0.7
        short = {s["scale"][1] for s in cfg.train_pipeline if s["type"] == "Resize" and s["scale"][0] == -1}
        assert short == {336 if "336" in size else 256}, (size, short)  # public get_augmentation scale_size
        assert cfg.optim_wrapper.optimizer.lr == 5e-5 and cfg.optim_wrapper.optimizer.weight_decay == 0.2
        assert cfg.train_cfg.max_epochs == (20 if size.startswith("l14") else 30)


def test_sentence_fit_counts_what_the_tokenizer_would_cut():
    # Table 6d on the tiny world: 3, 5 and 7 attributes gave identical predictions because every sentence was
    # cut at the tiny CLIP's 32 tokens; sentence_fit says so before anything runs
    from open_clip.tokenizer import SimpleTokenizer

    from methods.bike.attributes import sentence_fit

    tok = SimpleTokenizer(context_length=12)
    phrases = ["red", "blue ring", "green big box"]
    n = {p: len(tok.encode(p)) for p in phrases}
    prompt = "This is a video about {}"
    base = len(tok.encode("This is a video about")) + 2  # start and end of text
    fit = sentence_fit(tok, phrases, 2, prompt)
    shortest = base + n["red"] + n["blue ring"] + 1  # one ', ' between two phrases
    longest = base + n["green big box"] + n["blue ring"] + 1
    assert fit == {"context": 12, "shortest": shortest, "longest": longest,
                   "fits_always": max(k for k in range(3) if base + sum(sorted(n.values())[::-1][:k]) + max(0, k - 1)
                                      <= 12)}
    # what the tokenizer does past the context: the cut sentences of 2 and 3 phrases are the same tokens
    long2 = attribute_sentence(["green big box", "blue ring"], prompt)
    long3 = attribute_sentence(["green big box", "blue ring", "red"], prompt)
    assert longest > 12 and fit["fits_always"] == 1
    assert torch.equal(tok([long2]), tok([long3]))  # the third phrase never reaches the encoder
