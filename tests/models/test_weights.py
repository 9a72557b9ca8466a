"""Released checkpoint layouts: each is built as a random file in exactly its layout and loaded by the model.

The layouts are ``tests/fixtures/checkpoints/*.json`` (every key and shape of the released file, and how it
was saved). Expected names, tables and functions are written here by hand from the public code cited in
those files, never by calling the converter again.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.models import weights as W
from tests.models.ckpt_fixtures import layout, released_state, save_released


def _tag(monkeypatch, tag: str, path) -> str:
    monkeypatch.setenv("BENCH_WEIGHTS_" + tag.upper().replace("-", "_"), str(path))
    return tag


def _expanded(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Full-size tensors of the given shapes that share one element (a file of a few KB, for key/shape checks)."""
    one = torch.zeros(1, dtype=torch.float16)
    return {k: (torch.tensor(224) if k == "input_resolution" else one.expand(shape) if shape else one[0])
            for k, shape in keys.items()}


# -- CLIP --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_b16(tmp_path_factory):
    """OpenAI's ViT-B-16.pt layout at full size, half precision as released, as a TorchScript archive."""
    spec = layout("openai_clip_vit_b16")
    assert spec["how_saved"].startswith("TorchScript")
    state = released_state(spec["keys"], dtype=torch.float16)
    state["logit_scale"] = torch.tensor(math.log(100.0), dtype=torch.float32)
    path = save_released(state, tmp_path_factory.mktemp("openai") / "ViT-B-16.pt", "torchscript")
    return state, path


def _quick_gelu_mlp(block_state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    h = F.linear(x, block_state["c_fc.weight"].float(), block_state["c_fc.bias"].float())
    h = h * torch.sigmoid(1.702 * h)  # QuickGELU (openai/CLIP clip/model.py)
    return F.linear(h, block_state["c_proj.weight"].float(), block_state["c_proj.bias"].float())


@pytest.mark.slow  # full-size ViT-B/16 on CPU
def test_openai_torchscript_builds_quickgelu_clip_with_every_tensor(openai_b16, monkeypatch):
    from open_clip.transformer import QuickGELU

    from bench.models.clip import create_clip

    state, path = openai_b16
    with pytest.raises(RuntimeError, match="TorchScript"):  # what the old loader hit
        torch.load(path, weights_only=True)
    model = create_clip("ViT-B-16", _tag(monkeypatch, "openai-vit-b-16", path))
    rep = model.weights_report
    assert (rep["layout"], rep["format"], rep["activation"]) == ("openai-clip", "torchscript", "QuickGELU")
    # what the caches key by: the built model's activation, and the same without building it
    from bench.models.clip import activation_of, clip_activation

    assert activation_of(model) == clip_activation("ViT-B-16", "openai-vit-b-16") == "QuickGELU"
    assert clip_activation("ViT-B-16", None) == "GELU"  # the arch string alone says GELU
    own = model.state_dict()
    assert set(own) == set(state) - {"input_resolution", "context_length", "vocab_size"}
    for k in own:
        assert torch.equal(own[k], state[k].float()), k
    # the released function: QuickGELU in every MLP of both towers, whatever 'ViT-B-16' says (nn.GELU)
    acts = [b.mlp.gelu for t in (model.visual.transformer, model.transformer) for b in t.resblocks]
    assert len(acts) == 24 and all(isinstance(a, QuickGELU) for a in acts)
    x = torch.randn(2, 5, 768)
    prefix = "visual.transformer.resblocks.3.mlp."
    block = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    with torch.no_grad():
        torch.testing.assert_close(model.visual.transformer.resblocks[3].mlp(x), _quick_gelu_mlp(block, x))


@pytest.mark.slow  # full-size ViT-B/16 on CPU
def test_openai_state_dict_and_open_clip_file(openai_b16, tmp_path, monkeypatch):
    """A plain OpenAI state dict (with its three scalars) is OpenAI's too; an open_clip file keeps its arch's GELU."""
    from bench.models.clip import create_clip

    state, _ = openai_b16
    plain = save_released(dict(state), tmp_path / "openai_sd.pt", None)
    model = create_clip("ViT-B-16", _tag(monkeypatch, "openai-plain", plain))
    assert (model.weights_report["layout"], model.weights_report["activation"]) == ("openai-clip", "QuickGELU")
    spec = layout("open_clip_vit_b16")
    assert not any(spec["diff_vs_openai_clip_vit_b16"].values())
    oc = {k: state[k].float() for k in spec["keys"]}
    path = save_released({"epoch": 1, "state_dict": {"module." + k: v for k, v in oc.items()}}, tmp_path / "oc.pt",
                         None)
    model = create_clip("ViT-B-16", _tag(monkeypatch, "oc-b16", path))
    assert (model.weights_report["layout"], model.weights_report["activation"]) == ("open-clip", "GELU")
    # an open_clip file named as OpenAI's would silently run with GELU: refused, unless the arch says quickgelu
    with pytest.raises(W.WeightsError, match="need QuickGELU"):
        create_clip("ViT-B-16", _tag(monkeypatch, "openai-vit-b-16", path))
    quick = create_clip("ViT-B-16-quickgelu", "openai-vit-b-16")
    assert quick.weights_report["activation"] == "QuickGELU"
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, torch.nn.GELU)
    assert torch.equal(model.state_dict()["visual.proj"], oc["visual.proj"])


def test_openai_l14_layout_fits_open_clip_vit_l14_on_the_meta_device(tmp_path, monkeypatch):
    spec = layout("openai_clip_vit_l14")
    path = save_released(_expanded(spec["keys"]), tmp_path / "ViT-L-14.pt", "torchscript")
    assert path.stat().st_size < 5_000_000
    need = W.Need("model.clip_weights", _tag(monkeypatch, "openai-vit-l-14", path), "clip",
                  W._clip_shapes("ViT-L-14"), model="open_clip ViT-L-14")
    row = W.check_need(need)
    assert (row["status"], row["layout"], row["activation"]) == ("ok", "openai-clip", "QuickGELU"), row
    at336 = W.check_need(W.Need("model.clip_weights", "openai-vit-l-14", "clip", W._clip_shapes("ViT-L-14-336"),
                                model="open_clip ViT-L-14-336"))
    assert at336["status"] == "mismatch"
    assert "visual.positional_embedding: file [257, 1024] vs model [577, 1024] (224-px checkpoint for a 336-px " \
           "model)" in at336["message"]
    bad = W.Need("model.clip_weights", "openai-vit-l-14", "clip", W._clip_shapes("ViT-B-16"), model="ViT-B-16")
    row = W.check_need(bad)
    assert row["status"] == "mismatch", row
    assert "positional_embedding: file [77, 768] vs model [77, 512]" in row["message"], row["message"]
    assert "visual.conv1.weight: file [1024, 3, 14, 14] vs model [768, 3, 16, 16]" in row["message"]


# -- UniFormerV2 (ftp) -------------------------------------------------------------------------------------
SMALL = {768: 48, 2304: 144, 3072: 192}
UV2_SMALL = dict(input_resolution=224, patch_size=16, width=48, layers=12, heads=12, t_size=8, dw_reduction=1.5,
                 backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True, double_lmhra=True,
                 return_list=[8, 9, 10, 11], n_layers=4, n_dim=48, n_head=12, mlp_factor=4.0, drop_path_rate=0.0,
                 mlp_dropout=[0.5, 0.5, 0.5, 0.5])


def test_uniformerv2_opengvlab_and_mmaction2_layouts_compute_the_same_encoder(tmp_path, monkeypatch):
    from methods.ftp.encoders import FTPUniFormerV2

    gvl = layout("uniformerv2_b16_k710_opengvlab")
    mm = layout("mmaction2_uniformerv2_b16_k710")
    state = released_state(gvl["keys"], SMALL, seed=1)
    # MMAction2's naming, by hand from the reference's key_map_from_opengvlab
    rename = {new: old for old, (new,) in ((k, v) for k, v in mm["key_map_from_opengvlab"].items())}
    mm_state = {k: state[rename.get(k, k)] for k in mm["keys"]}
    assert set(mm_state) == set(mm["keys"])
    save_released(state, tmp_path / "k710_uniformerv2_b16_8x224.pyth", None)
    torch.save({"meta": {"epoch": 1}, "state_dict": mm_state}, tmp_path / "mm.pth")

    with pytest.raises(W.WeightsError, match=r"cls_head\.fc_cls"):  # strict by default
        FTPUniFormerV2(weights=_tag(monkeypatch, "uv2-gvl", tmp_path / "k710_uniformerv2_b16_8x224.pyth"), **UV2_SMALL)
    a = FTPUniFormerV2(weights="uv2-gvl", weights_ignore=("cls_head.*",), **UV2_SMALL)
    b = FTPUniFormerV2(weights=_tag(monkeypatch, "uv2-mm", tmp_path / "mm.pth"), weights_ignore=("cls_head.*",),
                       **UV2_SMALL)
    assert a.weights_report["layout"] == "uniformerv2-opengvlab"
    assert b.weights_report["layout"] == "uniformerv2-mmaction2"
    assert a.weights_report["ignored"] == ["cls_head.fc_cls.bias", "cls_head.fc_cls.weight"]
    own = a.net.state_dict()
    for k, v in mm_state.items():
        if k.startswith("backbone."):
            assert torch.equal(own[k[len("backbone."):]], v), k
    assert torch.equal(own["transformer.norm.weight"], state["backbone.transformer.proj.0.weight"])
    x = torch.randn(1, 3, 8, 224, 224)
    ma, pa = a(x)
    mb, pb = b(x)
    assert torch.equal(pa, pb) and torch.equal(ma, mb)


def test_uniformerv2_l14_224_file_is_refused_for_the_336_config(tmp_path, monkeypatch):
    from bench.method import load_config

    gvl = layout("uniformerv2_l14_k710_opengvlab")
    path = save_released(_expanded(gvl["keys"]), tmp_path / "k710_uniformerv2_l14_8x224.pyth", None)
    assert path.stat().st_size < 5_000_000
    cfg = load_config("ftp", "uniformerv2_l14_32x224")
    _tag(monkeypatch, "uniformerv2-l14-k710", path)
    rows = {r["tag"]: r for r in W.check_config(cfg)}
    assert rows["uniformerv2-l14-k710"]["status"] == "ok", rows["uniformerv2-l14-k710"]
    assert rows["uniformerv2-l14-k710"]["ignored"] == ["cls_head.fc_cls.bias", "cls_head.fc_cls.weight"]
    cfg = load_config("ftp", "uniformerv2_l14_64x336")
    _tag(monkeypatch, "uniformerv2-l14-k710-336", path)
    with pytest.raises(W.WeightsError) as e:
        W.validate_config(cfg, "ftp uniformerv2_l14_64x336")
    msg = str(e.value)
    assert "'uniformerv2-l14-k710-336'" in msg and str(path) in msg
    assert "positional_embedding: file [257, 1024] vs model [577, 1024] (224-px checkpoint for a 336-px model)" in msg
    assert "k710_uniformerv2_l14_8x336.pyth" in msg  # the released file it expects


# -- UMT / VideoMAE (vlc, ftp) -----------------------------------------------------------------------------
def _sinusoid(n: int, d: int) -> torch.Tensor:
    """The VideoMAE / UMT sinusoid table, by hand: angle = pos / 10000^(2*(j//2)/d), sin on even j, cos on odd."""
    pos = np.arange(n)[:, None].astype(np.float64)
    j = np.arange(d)[None, :]
    angle = pos / np.power(10000, 2 * (j // 2) / d)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.tensor(table, dtype=torch.float32)[None]


def _umt_table(frames: int, d: int) -> torch.Tensor:
    """UMT's fine-tuning table at ``frames`` (224 px, patch 16): the 8x14x14 table, linear in time per position."""
    t8 = _sinusoid(8 * 196, d).reshape(8, 196, d)
    out = torch.empty(frames, 196, d)
    for t in range(frames):  # F.interpolate(mode='linear', align_corners=False): source = (t + 0.5) * 8/T - 0.5
        s = min(max((t + 0.5) * 8 / frames - 0.5, 0.0), 7.0)
        lo = int(math.floor(s))
        hi = min(lo + 1, 7)
        w = s - lo
        out[t] = (1 - w) * t8[lo] + w * t8[hi]
    return out.reshape(1, frames * 196, d)


def _hand_video_names(key: str) -> str:
    """Released VideoMAE / UMT names -> MMAction2 VisionTransformer names (mmaction vit_mae.py)."""
    for p in ("module.", "encoder."):
        key = key[len(p):] if key.startswith(p) else key
    return (key.replace("patch_embed.proj.", "patch_embed.projection.").replace(".mlp.fc1.", ".mlp.layers.0.0.")
            .replace(".mlp.fc2.", ".mlp.layers.1."))


def _encoder(frames: int, tubelet: int, tag: str, ignore=()):
    from methods.vlc.backbone import VLCVideoEncoder

    enc = VLCVideoEncoder(arch="vit", num_frames=frames, img_size=224, patch_size=16, tubelet_size=tubelet,
                          embed_dims=48, depth=12, num_heads=12, video_weights=tag, weights_ignore=ignore)
    enc.init_weights()
    return enc


def test_umt_pretrain_16_frames_gets_umts_interpolated_table(tmp_path, monkeypatch):
    spec = layout("umt_b16_pretrain_k710")
    state = released_state(spec["keys"], {**SMALL, 512: 16}, seed=2)
    save_released(state, tmp_path / "b16_ptk710_f8_res224.pth", spec["state_dict_key"])
    tag = _tag(monkeypatch, "umt-b16-ptk710-f8-res224", tmp_path / "b16_ptk710_f8_res224.pth")
    with pytest.raises(W.WeightsError, match=r"clip_decoder\.0\.head\.weight"):
        _encoder(16, 1, tag)
    enc = _encoder(16, 1, tag, ignore=("clip_decoder.*",))
    rep = enc.load_info
    assert rep["layout"] == "umt-pretrain" and rep["pooling"] == "token_norm"
    assert rep["ignored"] == sorted(k for k in spec["keys"] if k.startswith("clip_decoder."))
    assert rep["built_by_model"] == ["pos_embed"]
    own = enc.net.state_dict()
    for k, v in state.items():
        if not k.startswith("clip_decoder."):
            assert torch.equal(own[_hand_video_names(k)], v), k
    torch.testing.assert_close(own["pos_embed"], _umt_table(16, 48), atol=1e-5, rtol=0)
    # the old behaviour (a fresh table over all 16x196 positions) is a different table
    assert not torch.allclose(own["pos_embed"], _sinusoid(16 * 196, 48), atol=1e-3)
    # at 8 frames UMT's table is the plain sinusoid of the pre-training geometry
    torch.testing.assert_close(_encoder(8, 1, tag, ("clip_decoder.*",)).net.pos_embed, _sinusoid(1568, 48),
                               atol=1e-5, rtol=0)


def test_umt_finetuned_applies_fc_norm_after_pooling(tmp_path, monkeypatch):
    from methods.vlc.backbone import VLCVideoEncoder

    spec = layout("umt_b16_finetune_k710")
    assert spec["state_dict_key"] == "module"
    state = released_state(spec["keys"], SMALL, seed=3)
    state["fc_norm.weight"] = 1 + state["fc_norm.weight"] * 10
    save_released(state, tmp_path / "b16_ptk710_ftk710_f8_res224.pth", "module")
    tag = _tag(monkeypatch, "umt-ft", tmp_path / "b16_ptk710_ftk710_f8_res224.pth")
    enc = _encoder(8, 1, tag, ignore=("head.*",))
    assert enc.load_info["layout"] == "umt-finetune" and enc.pooling == "fc_norm"
    assert enc.load_info["ignored"] == ["head.bias", "head.weight"]
    assert isinstance(enc.net.norm, torch.nn.Identity)
    x = torch.randn(1, 3, 8, 224, 224)
    with torch.no_grad():
        tokens = enc(x)  # (B, D, T, h, w): the last block's tokens, no per-token norm
        pooled = enc.post_pool(tokens.flatten(2).mean(2))
    want = F.layer_norm(tokens.flatten(2).mean(2), (48,), state["fc_norm.weight"], state["fc_norm.bias"], 1e-6)
    torch.testing.assert_close(pooled, want)
    wrong = F.layer_norm(tokens.flatten(2).transpose(1, 2), (48,), state["fc_norm.weight"], state["fc_norm.bias"],
                         1e-6).mean(1)
    assert not torch.allclose(pooled, wrong, atol=1e-3)
    # the same tensors in the model's own naming, loaded by hand, compute the same features
    ref = VLCVideoEncoder(arch="vit", num_frames=8, img_size=224, patch_size=16, tubelet_size=1, embed_dims=48,
                          depth=12, num_heads=12, pool_norm="fc_norm")
    ref.net.load_state_dict({**{_hand_video_names(k): v for k, v in state.items() if not k.startswith("head.")},
                             "pos_embed": _sinusoid(1568, 48)})
    with torch.no_grad():
        torch.testing.assert_close(ref(x), tokens)


@pytest.mark.parametrize("name,ignore,pooling", [
    ("videomae_b16_pretrain", ("decoder.*", "encoder_to_decoder.*", "mask_token"), "token_norm"),
    ("videomae_b16_finetune_k400", ("head.*",), "fc_norm"),
])
def test_videomae_layouts_load_every_encoder_tensor(name, ignore, pooling, tmp_path, monkeypatch):
    spec = layout(name)
    state = released_state(spec["keys"], {**SMALL, 384: 24, 1152: 72, 1536: 1536}, seed=4)
    save_released(state, tmp_path / f"{name}.pth", spec["state_dict_key"])
    enc = _encoder(16, 2, _tag(monkeypatch, name.replace("_", "-"), tmp_path / f"{name}.pth"), ignore)
    assert enc.pooling == pooling and enc.load_info["layout"] == name.replace("_b16", "").replace("_k400", "") \
        .replace("_", "-")
    own = enc.net.state_dict()
    used = [k for k in state if not W._match(k, ignore)]
    for k in used:
        assert torch.equal(own[_hand_video_names(k)], state[k]), k
    assert set(own) == {_hand_video_names(k) for k in used} | {"pos_embed"}
    torch.testing.assert_close(own["pos_embed"], _sinusoid(1568, 48), atol=1e-5, rtol=0)  # VideoMAE's own table


# -- refusals ----------------------------------------------------------------------------------------------
def test_bad_files_are_refused_naming_tag_file_and_expectation(tmp_path, monkeypatch):
    import pickle

    from bench.method import load_config

    cfg = load_config("ftp", "uniformerv2_b16_8x224")
    good = released_state(layout("uniformerv2_b16_k710_opengvlab")["keys"], SMALL)
    torch.save(good, tmp_path / "full.pth")
    blob = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "truncated.pth").write_bytes(blob[: len(blob) // 2])

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    (tmp_path / "code.pth").write_bytes(pickle.dumps({"state_dict": Payload()}))
    torch.save({"model": released_state(layout("videomae_b16_pretrain")["keys"], {**SMALL, 384: 24, 1152: 72})},
               tmp_path / "videomae.pth")
    expect = {"empty.pth": "is empty (0 bytes)", "truncated.pth": "truncated or not a PyTorch checkpoint",
              "code.pth": "refuses to run", "videomae.pth": "it is a videomae-pretrain checkpoint",
              "nothing.pth": "no file"}
    for name, why in expect.items():
        _tag(monkeypatch, "uniformerv2-b16-k710", tmp_path / name)
        with pytest.raises(W.WeightsError) as e:
            W.validate_config(cfg, "ftp uniformerv2_b16_8x224")
        msg = str(e.value)
        assert why in msg, (name, msg)
        assert "'uniformerv2-b16-k710'" in msg and str(tmp_path / name) in msg
        assert "expected file: OpenGVLab k710_uniformerv2_b16_8x224.pyth" in msg


# -- BIKE's released K400 model ----------------------------------------------------------------------------
@pytest.mark.slow  # full-size ViT-B/16 on CPU
def test_bike_release_builds_the_bike_recognizer(openai_b16, tmp_path, monkeypatch):
    """k400-vit-b-16-f8.pt: CLIP (OpenAI names) + the 6-layer temporal transformer, every tensor where it belongs."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    from open_clip.transformer import QuickGELU

    from bench.method import load_config

    spec = layout("bike_vit_b16_k400_official")
    state, _ = openai_b16
    clip_sd = {k: state[k] for k in spec["keys"]}
    fusion = released_state(spec["fusion_keys"], seed=5)
    torch.save({"epoch": 29, "model_state_dict": clip_sd, "fusion_model_state_dict": fusion},
               tmp_path / "k400-vit-b-16-f8.pt")
    _tag(monkeypatch, "bike-vit-b16-k400", tmp_path / "k400-vit-b-16-f8.pt")
    cfg = load_config("bike", "b16_8f_release")
    rows = W.check_config(cfg)
    assert {r["where"]: r["status"] for r in rows} == {"model.backbone.clip_weights": "ok",
                                                       "model.backbone.temporal_weights": "ok",
                                                       "model.cls_head.clip_weights": "ok"}, rows
    init_default_scope("mmaction")
    cfg.model.cls_head.class_names = ["abseiling", "air drumming"]  # 2 of the 400: the category texts embed at build
    model = MODELS.build(cfg.model)
    enc = model.backbone
    own = enc.visual.state_dict()
    for k, v in clip_sd.items():
        if k.startswith("visual."):
            assert torch.equal(own[k[len("visual."):]], v.float()), k
    text = model.cls_head.category_encoder.clip.state_dict()
    for k in ("token_embedding.weight", "text_projection", "transformer.resblocks.11.mlp.c_proj.weight"):
        assert torch.equal(text[k], clip_sd[k].float()), k
    tem = {"frame_pos." + k: v for k, v in enc.frame_pos.state_dict().items()}
    tem.update({"temporal." + k: v for k, v in enc.temporal.state_dict().items()})
    by_hand = {("frame_pos." + k[len("frame_position_embeddings."):]) if k.startswith("frame_position") else
               "temporal." + k[len("transformer."):]: v for k, v in fusion.items()}
    assert set(tem) == set(by_hand)
    for k, v in by_hand.items():
        assert torch.equal(tem[k], v), k
    # BIKE's video header: QuickGELU blocks with eps-1e-12 LayerNorms; the CLIP is OpenAI's (QuickGELU)
    blk = enc.temporal.resblocks[0]
    assert isinstance(blk.mlp.gelu, QuickGELU) and blk.ln_1.eps == 1e-12
    assert isinstance(enc.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert enc.weights_report["layout"] == "bike-k400"


def test_bench_validate_refuses_an_empty_weights_file_before_submission(tmp_path, monkeypatch, capsys):
    from bench.cli import main

    grid = tmp_path / "g.yaml"
    grid.write_text("name: weights_check\nbase: {method: ftp, protocol: supervised, seed: 0}\n"
                    "profiles:\n  default: {size: uniformerv2_b16_8x224, dataset: syn_k400, executor: debug}\n"
                    "cases:\n  one: {}\n")
    (tmp_path / "empty.pth").write_bytes(b"")
    _tag(monkeypatch, "uniformerv2-b16-k710", tmp_path / "empty.pth")
    assert main(["validate", str(grid)]) != 0
    err = capsys.readouterr().err
    assert "'uniformerv2-b16-k710'" in err and str(tmp_path / "empty.pth") in err and "0 bytes" in err
    assert "k710_uniformerv2_b16_8x224.pyth" in err
    assert main(["weights", str(grid)]) == 1
    out = capsys.readouterr().out
    assert "uniformerv2-b16-k710  [unreadable]" in out and "openai-vit-b-16  [missing]" in out


def test_timm_safetensors_layout_loads_into_the_ftp_frame_encoder(tmp_path, monkeypatch):
    """timm's own naming in a safetensors file (as timm releases ViT / DeiT III); the 21k classifier is declared."""
    import timm
    from safetensors.torch import save_file

    from methods.ftp.encoders import FTPTimmFrames

    torch.manual_seed(0)
    src = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=21843).state_dict()
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in src.items()}, str(path))
    tag = _tag(monkeypatch, "timm-tiny", path)
    ck = W.read_file(path, lazy=True)  # the header only
    assert ck.fmt == "safetensors" and ck.entries["head.weight"] == (21843, 192)
    with pytest.raises(W.WeightsError, match=r"head\.weight"):
        FTPTimmFrames("vit_tiny_patch16_224", weights=tag)
    enc = FTPTimmFrames("vit_tiny_patch16_224", weights=tag, weights_ignore=("head.*",))
    assert enc.weights_report["layout"] == "timm-vit" and enc.weights_report["ignored"] == ["head.bias", "head.weight"]
    own = enc.net.state_dict()
    assert set(own) == set(src) - {"head.weight", "head.bias"}
    assert all(torch.equal(own[k], src[k]) for k in own)


def test_ftp_videomae_finetuned_pools_then_applies_fc_norm(tmp_path, monkeypatch):
    from methods.ftp.encoders import FTPVideoMAE

    spec = layout("videomae_b16_finetune_k400")
    state = released_state(spec["keys"], SMALL, seed=6)
    save_released(state, tmp_path / "ft.pth", "module")
    enc = FTPVideoMAE(weights=_tag(monkeypatch, "vmae-ft", tmp_path / "ft.pth"), weights_ignore=("head.*",),
                      img_size=224, patch_size=16, embed_dims=48, depth=12, num_heads=12, num_frames=16)
    assert enc.pooling == "fc_norm" and enc.weights_report["ignored"] == ["head.bias", "head.weight"]
    m, pooled = enc(torch.randn(1, 3, 16, 224, 224))
    want = F.layer_norm(m.mean(dim=(1, 2, 3)), (48,), state["fc_norm.weight"], state["fc_norm.bias"], 1e-6)
    torch.testing.assert_close(pooled, want)


def test_bench_weights_lists_every_tag_of_the_paper_prompt_grid(capsys):
    from pathlib import Path

    from bench.cli import main

    grid = Path(__file__).resolve().parents[2] / "ablations" / "ftp_prompts.yaml"
    assert main(["weights", str(grid), "--profile", "paper"]) == 1  # nothing configured in the test session
    out = capsys.readouterr().out
    assert "uniformerv2-l14-k710  [missing]" in out and "openai-vit-l-14  [missing]" in out
    assert "16 cells/configs" in out and "k710_uniformerv2_l14_8x224.pyth" in out and "ViT-L-14.pt" in out
    assert "0 of 2 weights tags ok" in out


def test_mmaction2_model_zoo_videomae_recognizer_file_loads_its_backbone(tmp_path, monkeypatch):
    """MMAction2's VideoMAE zoo files are whole Recognizer3D checkpoints: ``backbone.*`` + ``cls_head.fc_cls``."""
    from mmaction.models.backbones.vit_mae import VisionTransformer

    from methods.ftp.encoders import FTPVideoMAE

    kw = dict(img_size=224, patch_size=16, embed_dims=48, depth=2, num_heads=12, num_frames=16)
    torch.manual_seed(0)
    src = VisionTransformer(**kw).state_dict()  # MMAction2's own naming, use_mean_pooling=True (fc_norm)
    state = {"backbone." + k: v for k, v in src.items()}
    state.update({"cls_head.fc_cls.weight": torch.randn(400, 48), "cls_head.fc_cls.bias": torch.randn(400)})
    torch.save({"meta": {"epoch": 1}, "state_dict": state}, tmp_path / "zoo.pth")
    enc = FTPVideoMAE(weights=_tag(monkeypatch, "videomae-zoo", tmp_path / "zoo.pth"),
                      weights_ignore=("cls_head.*",), **kw)
    assert enc.weights_report["layout"] == "mmaction2-vit" and enc.pooling == "fc_norm"
    own = enc.net.state_dict()
    assert set(own) == set(src) and all(torch.equal(own[k], src[k]) for k in src)
