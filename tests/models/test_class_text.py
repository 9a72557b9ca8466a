"""Lazy class text: a build runs no text encoder; the first forward does, once, through the disk cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

TINY = "vlbench-tiny-vit"
NAMES = ["red square sliding left", "blue circle jumping"]
TEMPLATES = ["{}", "a video of {}."]


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Counts every text-encoder call (open_clip's ``encode_text`` and bike's text tower); own cache folder."""
    import open_clip

    from methods.bike.text import CLIPTextTower

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    seen = {"n": 0}
    for cls, name in ((open_clip.model.CLIP, "encode_text"), (CLIPTextTower, "forward")):
        original = getattr(cls, name)

        def counting(self, *a, _original=original, **k):
            seen["n"] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(cls, name, counting)
    return seen


def _build(cfg):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401

    register_all_modules()
    return MODELS.build(cfg)


def _head(**kw):
    return _build(dict(type="CLIPTextHead", clip_arch=TINY, clip_weights=None, class_names=NAMES,
                       templates=TEMPLATES, **kw))


def _by_hand(text, names, templates):
    """The template ensemble of ActionCLIP / open_clip's zero-shot classifier, written out."""
    import open_clip

    tok = open_clip.get_tokenizer(TINY)
    rows = []
    with torch.no_grad():
        for n in names:
            e = F.normalize(text.encode_text(tok([t.format(n) for t in templates])), dim=-1).mean(dim=0)
            rows.append(F.normalize(e, dim=-1))
    return torch.stack(rows)


@pytest.mark.parametrize("method", ["clip_meanpool", "alt", "bike", "vlc", "ftp"])
def test_building_a_model_calls_the_text_encoder_zero_times(calls, method):
    from bench.method import load_config

    model_cfg = load_config(method, "tiny").model.to_dict()  # the synthetic world's trained tiny CLIP
    if method in ("alt", "bike"):
        # vocabularies, not class text: alt's entity corpus S (a saved buffer) and bike's attribute lexicon are
        # embedded at build through the per-string cache; with the cache warm, a build runs no text encoder
        _build(model_cfg)
        calls["n"] = 0
    model = _build(model_cfg)
    assert calls["n"] == 0
    if hasattr(model, "set_class_names"):
        model.set_class_names(model.cls_head.class_names[::-1])
    assert calls["n"] == 0  # set_class_names costs nothing until the first forward


@pytest.mark.parametrize("method", ["clip_meanpool", "alt", "bike"])
def test_a_flops_build_runs_no_text_encoder_even_with_a_cold_cache(calls, method):
    from bench.job_flops import _strip_weights
    from bench.models.class_text import shape_only

    model_cfg = __import__("bench.method", fromlist=["x"]).load_config(method, "tiny").model.to_dict()
    _strip_weights(model_cfg)
    with shape_only():
        _build(model_cfg)
    assert calls["n"] == 0


def test_first_forward_encodes_once_then_the_cache_serves_bit_identical_rows(calls):
    head = _head()
    assert calls["n"] == 0
    feats = torch.randn(3, 64)
    out = head(feats)
    assert calls["n"] == 1 and out.shape == (3, 2)  # one batch of 4 prompts
    expected = _by_hand(head.text, NAMES, TEMPLATES)
    after_first = calls["n"]
    torch.testing.assert_close(head.class_embeds, expected, rtol=0, atol=1e-6)
    head(feats)
    assert calls["n"] == after_first  # held in memory
    again = _head()  # same encoder weights (seed-0 random init), templates and names: a disk-cache hit
    assert torch.equal(again.class_embeds, head.class_embeds) and calls["n"] == after_first
    again.set_class_names(["x"])
    assert again(feats).shape == (3, 1) and calls["n"] > after_first


def test_new_weights_are_a_new_entry_and_autocast_or_inference_mode_change_nothing(calls):
    head = _head()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        head(torch.randn(2, 64))  # first use under AMP and inference mode: computed in fp32, outside both
    emb = head.class_embeds
    assert emb.dtype == torch.float32 and not emb.is_inference()
    torch.testing.assert_close(emb, _by_hand(head.text, NAMES, TEMPLATES), rtol=0, atol=1e-6)
    x = torch.randn(2, 64, requires_grad=True)
    head(x).sum().backward()  # usable with autograd afterwards
    assert x.grad is not None
    with torch.no_grad():
        head.text.ln_final.bias.add_(0.5)  # a checkpoint loaded after the build, say
    n = calls["n"]
    changed = head.class_embeds
    assert calls["n"] == n + 1 and not torch.allclose(changed, emb)
    torch.testing.assert_close(changed, _by_hand(head.text, NAMES, TEMPLATES), rtol=0, atol=1e-6)


def test_flops_trace_runs_no_text_encoder_and_counts_it_apart_per_prompt(calls):
    from bench.flops import count_recognizer
    from bench.method import load_config

    cfg = load_config("clip_meanpool", "tiny").model.to_dict()
    cfg["backbone"]["clip_weights"] = cfg["cls_head"]["clip_weights"] = None
    cfg["cls_head"].update(class_names=NAMES, templates=TEMPLATES)
    model = _build(cfg)
    rep = count_recognizer(model, (3, 4, 64, 64))
    assert calls["n"] == 1  # the one-prompt probe only
    # open_clip text tower of the tiny CLIP: context L=77 (CLIP's), width d=64, 2 layers, MLP 4d, projection d x 64
    L = 77
    per_layer = 3 * L * 64 * 64 + 2 * L * L * 64 + L * 64 * 64 + 2 * L * 64 * 256
    layer_norms = 5 * (2 * 2 + 1) * L * 64  # fvcore's layer_norm: 5 per element; two per block and ln_final
    one_prompt = 2 * per_layer + layer_norms + 64 * 64
    assert rep.class_text_prompts == len(NAMES) * len(TEMPLATES)
    assert rep.class_text_gflops * 1e9 == pytest.approx(one_prompt * 4)
    assert rep.as_record()["class_text_prompts"] == 4
    # the per-view count holds only the image side and the C x D cosine head
    frames = count_recognizer(model, (3, 4, 64, 64)).gflops_per_view
    assert frames == rep.gflops_per_view


def test_class_text_cache_tells_the_same_weights_apart_by_activation(tmp_path, monkeypatch):
    """One file built with QuickGELU (OpenAI's) and with GELU computes different text: two cache entries."""
    import open_clip

    from bench.models.class_text import LazyClassText
    from bench.models.clip import _register_configs

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    _register_configs()
    torch.manual_seed(0)
    gelu = open_clip.create_model("vlbench-tiny-vit", pretrained=None)
    quick = open_clip.create_model("vlbench-tiny-vit", pretrained=None, force_quick_gelu=True)
    quick.load_state_dict(gelu.state_dict())  # the very same tensors
    tok = open_clip.get_tokenizer("vlbench-tiny-vit")

    def lazy(model):
        def compute(names):
            with torch.no_grad():
                return {"embeds": model.encode_text(tok(list(names)))}
        return LazyClassText("open_clip:vlbench-tiny-vit", model, "v", ["{}"], compute=compute,
                             placeholder=lambda n: {"embeds": torch.zeros(len(n), 1)}, cache=True)

    a, b = lazy(gelu), lazy(quick)
    for x in (a, b):
        x.set_names(["walking left", "jumping"])
    ea, eb = a.get()["embeds"], b.get()["embeds"]
    assert (a.encoder_calls, b.encoder_calls) == (1, 1)  # the second did not take the first's entry
    assert not torch.allclose(ea, eb)  # and the entry it would have taken was wrong for it
