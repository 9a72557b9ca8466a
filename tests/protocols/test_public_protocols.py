"""Protocols as the public code runs them (issue 18): X-CLIP's three-split zero-shot, few-shot repetition,
test-view frame sampling, test crops, the reported epoch, BIKE's frame scoring and the linear-probe recipes.

Expected values are derived here from the public formulas (X-CLIP ``datasets/pipeline.py``, BIKE
``datasets/video.py`` / ``train.py`` / ``test_zeroshot.py``, MMAction2's ``UniformSample``), never by
calling the code under test twice.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import protocols  # noqa: F401  (registers every protocol)
from bench.data.catalog import LABELS_DIR, DatasetInfo, read_annotation_list, read_label_csv
from bench.errors import ConfigError
from bench.method import get_method, load_config
from bench.spec import RunSpec
from protocols import engine, lists
from protocols.base import build_protocol

REPO = Path(__file__).resolve().parents[2]


def real(name: str, label_file: str, root: Path) -> DatasetInfo:
    return DatasetInfo(name, read_label_csv(LABELS_DIR / label_file), root, {}, source="test")


def shipped_rows(path: Path) -> list[tuple[str, int]]:
    """``(class folder/stem, label)`` of a published ``<folder>/<stem> <frames> <label>`` split file."""
    return [(ln.split()[0], int(ln.split()[-1])) for ln in path.read_text().splitlines() if ln.strip()]


# ----------------------------------------------------------------------------- zero-shot mode splits

@pytest.mark.parametrize("dataset", ["ucf101", "hmdb51"])
def test_splits_mode_is_all_classes_on_each_official_test_split(dataset, fresh_dirs):
    ds = real(dataset, f"{dataset}.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "zeroshot", dataset, protocol_args={"mode": "splits"})
    episodes = build_protocol("zeroshot", {"mode": "splits"}).plan(spec, get_method("clip_meanpool"), ds)
    assert [e.name for e in episodes] == ["split1", "split2", "split3"]
    labels = read_label_csv(LABELS_DIR / f"{dataset}.csv")
    for i, ep in enumerate(episodes, 1):
        assert ep.classes == labels and len(ep.classes) == {"ucf101": 101, "hmdb51": 51}[dataset]
        expected = [(f"{p}.avi", lab) for p, lab in shipped_rows(lists.SPLITS_DIR / dataset / f"val_split{i}.txt")]
        assert read_annotation_list(ep.test.ann_file) == expected
        assert ep.params["split"] == i and ep.params["scoring"] == "model"
    sizes = [len(read_annotation_list(e.test.ann_file)) for e in episodes]
    assert sizes == {"ucf101": [3783, 3734, 3696], "hmdb51": [1530, 1530, 1530]}[dataset]


def test_splits_mode_subset_and_bad_values(fresh_dirs):
    ds = real("ucf101", "ucf101.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "zeroshot", "ucf101")
    eps = build_protocol("zeroshot", {"mode": "splits", "splits": [1]}).plan(spec, get_method("clip_meanpool"), ds)
    assert [e.name for e in eps] == ["split1"]
    for bad in ([], [4], [1, 1], "1"):
        with pytest.raises(ConfigError, match="zeroshot.splits"):
            build_protocol("zeroshot", {"mode": "splits", "splits": bad})
    with pytest.raises(ConfigError, match="zeroshot.scoring"):
        build_protocol("zeroshot", {"scoring": "video"})


# ----------------------------------------------------------------------------- few-shot repetition

@pytest.mark.parametrize("repeat", ["ceil", "floor", "none"])
def test_fewshot_epoch_length_under_each_repeat(repeat, fresh_dirs):
    ds = real("ucf101", "ucf101.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "fewshot", "ucf101", protocol_args={"shots": 2, "repeat": repeat})
    (ep,) = build_protocol("fewshot", {"shots": 2, "repeat": repeat}).plan(spec, get_method("clip_meanpool"), ds)
    n_full = len(shipped_rows(lists.SPLITS_DIR / "ucf101" / "train_split1.txt"))
    n_k = 2 * 101
    assert n_full == 9537
    times = {"ceil": -(-n_full // n_k), "floor": n_full // n_k, "none": 1}[repeat]  # 48, 47, 1
    assert ep.params["repeat"] == times and ep.params["epoch_length"] == times * n_k
    assert ep.params["repeat_mode"] == repeat and ep.params["repeat_from"] == "protocol"


@pytest.mark.parametrize(("method", "size", "repeat", "epochs", "every"), [
    ("bike", "b16_8f", "floor", 20, 5),  # BIKE train.py (floor), configs/*/*_few_shot.yaml (20 epochs, eval_freq 5)
    ("alt", "b16_32f", "none", 50, 1),   # X-CLIP main.py: the K-shot list itself, 50 epochs, tested every epoch
    ("vlc", "umt_b16_8f", "none", 50, 1),
    ("clip_meanpool", "b16_8f", "ceil", 30, 1),  # no public code: the harness default and the config's epochs
])
def test_fewshot_defaults_come_from_the_methods_public_code(method, size, repeat, epochs, every, fresh_dirs):
    ds = real("hmdb51", "hmdb51.csv", fresh_dirs)
    spec = RunSpec(method, "fewshot", "hmdb51", size=size, protocol_args={"shots": 4})
    (ep,) = build_protocol("fewshot", {"shots": 4}).plan(spec, get_method(method), ds)
    n_full, n_k = len(shipped_rows(lists.SPLITS_DIR / "hmdb51" / "train_split1.txt")), 4 * 51
    times = {"ceil": -(-n_full // n_k), "floor": n_full // n_k, "none": 1}[repeat]
    assert (ep.params["repeat_mode"], ep.params["epochs"], ep.params["repeat"]) == (repeat, epochs, times)
    assert ep.params["report_every"] == every
    override = build_protocol("fewshot", {"shots": 4, "repeat": "ceil", "epochs": 3}).plan(spec, get_method(method), ds)
    assert (override[0].params["repeat_mode"], override[0].params["epochs"]) == ("ceil", 3)
    with pytest.raises(ConfigError, match="fewshot.repeat"):
        build_protocol("fewshot", {"repeat": "round"})


# ----------------------------------------------------------------------------- test-view frame sampling

def view_step(clip_len: int, clips: int, sampling: str | None, seed: int = 0):
    from mmaction.registry import TRANSFORMS

    pipe = [dict(type="UniformSample", clip_len=clip_len, num_clips=1, test_mode=True), dict(type="CenterCrop",
                                                                                           crop_size=8)]
    cfg = engine._set_views(pipe, clips, 1, sampling=sampling, seed=seed)[0]
    return TRANSFORMS.build(cfg)


def sample(step, total: int, name: str = "v_a.avi", start_index: int = 0) -> list[int]:
    return step.transform({"total_frames": total, "start_index": start_index, "filename": f"/x/{name}"})[
        "frame_inds"].tolist()


@pytest.mark.parametrize(("total", "t", "clips"), [(100, 8, 1), (100, 8, 3), (37, 8, 4), (5, 8, 2)])
def test_start_sampling_is_bikes_test_indices(total, t, clips):
    tick = total / float(t)  # BIKE datasets/video.py _get_test_indices (non-dense)
    starts = np.linspace(0, tick - 1, num=clips, dtype=int)
    expected = [int(s + tick * x) % total for s in starts.tolist() for x in range(t)]
    assert sample(view_step(t, clips, "start"), total) == expected
    assert sample(view_step(t, clips, "start"), total, start_index=1) == [i + 1 for i in expected]


@pytest.mark.parametrize(("total", "t", "clips"), [(100, 8, 1), (100, 8, 3), (37, 8, 2)])
def test_centre_sampling_is_mmaction2_uniformsample_test_mode(total, t, clips):
    seg = float(total - 1) / t  # UniformSample._get_sample_clips, test mode
    duration = seg / (clips + 1)
    expected = [int(np.round(seg * i)) + int(duration * (k + 1)) for k in range(clips) for i in range(t)]
    for sampling in ("centre", None):
        assert sample(view_step(t, clips, sampling), total) == expected


def test_random_sampling_is_xclip_multiview_and_reproducible_from_the_seed():
    total, t, clips, seed = 100, 8, 3, 7
    rng = np.random.default_rng([seed, zlib.crc32(b"v_a.avi")])
    avg = total // t  # X-CLIP SampleFrames._get_train_clips with clip_len=1, once per view
    expected = np.concatenate([np.arange(t) * avg + rng.integers(avg, size=t) for _ in range(clips)]).tolist()
    step = view_step(t, clips, "random", seed)
    assert sample(step, total) == expected
    assert sample(view_step(t, clips, "random", seed), total) == expected  # same seed, same views
    assert sample(view_step(t, clips, "random", seed + 1), total) != expected
    assert sample(step, total, name="v_b.avi") != expected  # each video its own draw
    single = view_step(t, 1, "random", seed)  # one clip: X-CLIP's single view is the test-mode one
    seg = float(total - 1) / t
    assert sample(single, total) == [int(np.round(seg * i)) + int(seg / 2) for i in range(t)]


def test_sampling_refuses_a_dense_clip_sampler():
    pipe = [dict(type="SampleFrames", clip_len=16, frame_interval=4, num_clips=1, test_mode=True),
            dict(type="CenterCrop", crop_size=8)]
    from mmaction.registry import TRANSFORMS

    with pytest.raises(ConfigError, match="dense clip sampler"):
        TRANSFORMS.build(engine._set_views(pipe, 1, 1, sampling="start")[0])
    with pytest.raises(ConfigError, match="supervised.sampling"):
        build_protocol("supervised", {"sampling": "middle"})


# ----------------------------------------------------------------------------- test resize and crops

def test_test_resize_and_three_crop_resize():
    pipe = [dict(type="UniformSample", clip_len=8, num_clips=1, test_mode=True),
            dict(type="Resize", scale=(-1, 256)), dict(type="CenterCrop", crop_size=224)]
    out = engine._set_views(pipe, 1, 3)  # BIKE: three 224 crops of the 256 short side
    assert engine.test_transform(out) == {"resize": (-1, 256), "crop": ("ThreeCrop", 224)}
    out = engine._set_views(pipe, 1, 3, three_crop_resize=224)  # X-CLIP: three 224 crops of a 224 short side
    assert engine.test_transform(out) == {"resize": (-1, 224), "crop": ("ThreeCrop", 224)}
    out = engine._set_views(pipe, 1, 1, test_resize=288, three_crop_resize=224)
    assert engine.test_transform(out) == {"resize": (-1, 288), "crop": ("CenterCrop", 224)}
    with pytest.raises(ConfigError, match="no Resize step"):
        engine._set_views(pipe[:1] + pipe[2:], 1, 1, test_resize=256)
    with pytest.raises(ConfigError, match="fewshot.test_resize"):
        build_protocol("fewshot", {"test_resize": 0})


def readme_rows(path: Path) -> dict[str, tuple[int, str, int]]:
    """``size -> (short side, crop type, crop size)`` of the test-pipeline table of a README (issue 18 section)."""
    text = path.read_text()
    section = text[text.index("## Test pipeline"):]
    rows = {}
    for m in re.finditer(r"^\| (\S+) \| (\d+) \| (\w+) (\d+) \|$", section, re.M):
        rows[m[1]] = (int(m[2]), m[3], int(m[4]))
    return rows


@pytest.mark.parametrize("method", ["alt", "bike", "vlc", "ftp", "clip_meanpool"])
def test_every_real_size_test_pipeline_is_the_one_its_readme_names(method):
    readme = REPO / ("protocols" if method == "clip_meanpool" else f"methods/{method}") / "README.md"
    rows = readme_rows(readme)
    sizes = [s for s in get_method(method).sizes if s != "tiny"]
    assert sizes and set(sizes) <= set(rows), f"{readme}: no row for {sorted(set(sizes) - set(rows))}"
    for size in sizes:
        got = engine.test_transform(load_config(method, size).test_dataloader["dataset"]["pipeline"])
        short, crop, crop_size = rows[size]
        assert got == {"resize": (-1, short), "crop": (crop, crop_size)}, (method, size)


# ----------------------------------------------------------------------------- BIKE's frame scoring

def test_frames_scoring_is_bikes_compute_accuracy(fresh_dirs):
    from mmaction.structures import ActionDataSample
    from mmengine.structures import LabelData

    from protocols.zeroshot import FrameScoring

    cfg = load_config("bike", "tiny")
    model = engine.build_model(cfg)
    names = ["jump", "run", "swim"]
    model.set_class_names(names)
    torch.manual_seed(0)
    clip = torch.randint(0, 255, (2, 1, 3, int(cfg.num_frames), int(cfg.img_size), int(cfg.img_size))).float()
    samples = [ActionDataSample().set_gt_labels(torch.tensor([i])) for i in range(2)]
    out = FrameScoring(model, "bike").test_step({"inputs": list(clip), "data_samples": samples})
    # by hand: normalise, encode each frame with CLIP's image tower (no temporal transformer, no VCS), then
    # softmax(100 * f . t / |t|) per frame over the class sentences, averaged over the frames
    pre = model.data_preprocessor
    x = (clip[:, 0] - pre.mean.view(1, 3, 1, 1, 1)) / pre.std.view(1, 3, 1, 1, 1)
    b, c, t, h, w = x.shape
    with torch.no_grad():
        f = model.backbone.visual(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)).view(b, t, -1)
        text = model.cls_head.video_categories()["cls"]
        text = text / text.norm(dim=-1, keepdim=True)
        expected = torch.softmax(100 * f @ text.t(), dim=-1).mean(dim=1)
    for sample_out, e in zip(out, expected):
        assert isinstance(sample_out.pred_scores, LabelData)
        torch.testing.assert_close(sample_out.pred_scores.item, e, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="scoring=frames"):
        FrameScoring(engine.build_model(load_config("clip_meanpool", "tiny")), "clip_meanpool")


# ----------------------------------------------------------------------------- linear-probe recipes

def test_clip_sweep_holds_out_part_of_each_class_and_searches_like_clip():
    from protocols.linear_probe import CLIP_START, clip_sweep, holdout

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    x = rng.normal(size=(30, 4)) + y[:, None] * 1.5
    fit, val = holdout(y, 0.2, (0, 1))
    assert sorted(np.bincount(y[val]).tolist()) == [2, 2, 2] and not set(fit) & set(val)
    assert sorted(set(fit) | set(val)) == list(range(30))
    best, tried = clip_sweep(x, y, 3, 0.2, (0, 1), 100)
    l2s = [t["l2"] for t in tried]
    assert all(any(np.isclose(v, s) for s in l2s) for v in CLIP_START)
    assert len(tried) <= len(CLIP_START) + 2 * 4  # 4 halvings (2 -> 1/8 decade), two new points each at most
    assert any(np.isclose(best, s) for s in l2s)
    top = max(t["top1"] for t in tried)
    assert [t["top1"] for t in tried if np.isclose(t["l2"], best)] == [top]
    with pytest.raises(ConfigError, match="linear_probe.recipe"):
        build_protocol("linear_probe", {"recipe": "sgd"})


def test_alt_recipe_is_adamw_with_warmup_then_cosine():
    from protocols.linear_probe import fit_adamw

    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = np.array([0, 0, 0, 1, 2])  # no class holds a third of the batch: no gradient entry is zero
    lr, wd = 4e-4, 0.001
    sched = {"lr": lr, "betas": (0.9, 0.98), "weight_decay": wd, "epochs": 1, "warmup_epochs": 0, "batch_size": 5}
    clf = fit_adamw(x, y, 3, sched, seed=0)
    # one full-batch step from zero weights at the cosine's start (factor 1): AdamW's first step moves every
    # parameter by lr * g / (|g| + eps) (bias-corrected moments), decay acts on zero weights
    p = np.full((5, 3), 1 / 3)
    onehot = np.eye(3)[y]
    g_w, g_b = ((p - onehot).T @ x) / 5, (p - onehot).mean(0)
    np.testing.assert_allclose(clf.weight.detach().numpy(), -lr * g_w / (np.abs(g_w) + 1e-8), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(clf.bias.detach().numpy(), -lr * g_b / (np.abs(g_b) + 1e-8), rtol=1e-4, atol=1e-9)
    # one step that is the first of four warm-up steps runs at a quarter of the rate
    warm = fit_adamw(x, y, 3, {**sched, "epochs": 1, "warmup_epochs": 4}, seed=0)
    np.testing.assert_allclose(warm.weight.detach().numpy(), -lr / 4 * g_w / (np.abs(g_w) + 1e-8), rtol=1e-4,
                               atol=1e-9)


# ----------------------------------------------------------------------------- end to end (tiny)

@pytest.mark.slow
def test_fewshot_report_best_tests_every_epoch_and_is_marked(fresh_dirs, quick_spec):
    from bench import job
    from bench.table_render import to_markdown
    from bench.tables import build_table, measured_entries

    spec = quick_spec("fewshot", "syn_ucf", shots=2, repeat="floor", report="best", sampling="start")
    spec.overrides["train_cfg.max_epochs"] = 3
    record = job.run(spec)
    m = record["metrics"]
    assert m["report"] == "best" and len(m["per_epoch_top1"]) == 3 == m["epochs_trained"]
    assert m["tested_epochs"] == [1, 2, 3]
    assert m["top1"] == pytest.approx(max(m["per_epoch_top1"]))
    assert m["best_epoch"] == 1 + m["per_epoch_top1"].index(max(m["per_epoch_top1"]))
    assert m["sampling"] == "start"
    from bench.data.catalog import get_dataset

    params = record["episodes"][0]["episode"]["params"]
    ds = get_dataset("syn_ucf")
    n_full = len(read_annotation_list(ds.split_file("train_split1")))
    assert params["repeat"] == n_full // (2 * len(ds.classes)) and params["repeat_mode"] == "floor"
    spec_t = {"name": "t", "columns": [{"name": "method", "field": "method"},
                                       {"name": "top1", "metric": "top1"}]}
    text = to_markdown(build_table(spec_t, measured_entries([record])))
    assert "‡" in text and "report: best" in text
    sparse = quick_spec("supervised", "syn_ucf", train_split="train_split1", test_split="val_split1", report="best",
                        report_every=2)
    sparse.overrides["train_cfg.max_epochs"] = 3
    m = job.run(sparse)["metrics"]
    assert m["tested_epochs"] == [2, 3] and m["top1_1view"] == pytest.approx(max(m["per_epoch_top1"]))


@pytest.mark.slow
def test_zeroshot_splits_end_to_end_mean_and_std_of_the_three_splits(fresh_dirs, quick_spec):
    from bench import job

    record = job.run(quick_spec("zeroshot", "syn_ucf", mode="splits"))
    m = record["metrics"]
    per = [m["per_episode"][f"split{i}"]["top1"] for i in (1, 2, 3)]
    assert m["num_episodes"] == 3 and m["top1"] == pytest.approx(sum(per) / 3)
    assert m["top1_std"] == pytest.approx(float(np.sqrt(np.mean((np.array(per) - np.mean(per)) ** 2))))
    from bench.data.catalog import get_dataset

    ds = get_dataset("syn_ucf")
    for i, ep in enumerate(record["episodes"], 1):
        assert ep["episode"]["classes"] == list(ds.classes)
        assert ep["episode"]["test"]["num_videos"] == len(read_annotation_list(ds.split_file(f"val_split{i}")))


@pytest.mark.slow
def test_zeroshot_frames_scoring_end_to_end_is_recorded_and_marked(fresh_dirs):
    from bench import job
    from bench.table_render import to_markdown
    from bench.tables import build_table, measured_entries
    from tests.protocols.conftest import QUICK

    over = {k: v for k, v in QUICK.items() if not k.startswith("model.")}
    spec = RunSpec("bike", "zeroshot", "syn_ucf", protocol_args={"mode": "splits", "splits": [1],
                                                                 "scoring": "frames"}, overrides=over)
    record = job.run(spec)
    assert record["metrics"]["scoring"] == "frames" and record["episodes"][0]["metrics"]["scoring"] == "frames"
    assert 0 <= record["metrics"]["top1"] <= 100
    spec_t = {"name": "t", "columns": [{"name": "method", "field": "method"}, {"name": "top1", "metric": "top1"}]}
    text = to_markdown(build_table(spec_t, measured_entries([record])))
    assert "§" in text and "scoring: frames" in text


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["clip", "alt"])
def test_linear_probe_recipes_end_to_end(recipe, fresh_dirs, quick_spec):
    from bench import job

    record = job.run(quick_spec("linear_probe", "syn_hmdb", splits=[1], recipe=recipe))
    m = record["metrics"]
    assert m["recipe"] == recipe and 0 <= m["top1"] <= 100
    ep = record["episodes"][0]["metrics"]
    if recipe == "clip":
        assert ep["sweep"] and any(np.isclose(ep["l2"], s["l2"]) for s in ep["sweep"])


# ----------------------------------------------------------------------------- grids of the splits mode and scorings

@pytest.mark.parametrize(("grid", "profiles"), [
    ("alt_zeroshot_splits", ["default", "default_hmdb", "paper", "paper_hmdb", "paper_l14", "paper_l14_hmdb"]),
    ("vlc_zeroshot_splits", ["default", "default_hmdb", "paper", "paper_hmdb"]),
])
def test_table_grids_use_xclips_three_split_protocol(grid, profiles):
    from bench import grid as grids

    for profile in profiles:
        g = grids.load(REPO / "ablations" / f"{grid}.yaml", profile)
        for spec in g.specs:
            assert spec.protocol == "zeroshot" and spec.protocol_args["mode"] == "splits"
            assert spec.protocol_args["splits"] == [1, 2, 3] and spec.protocol_args["views"] == "1x1"
            assert spec.protocol_args["train_dataset"] in ("syn_k400", "k400")
            if profile.startswith("paper"):
                assert spec.size.endswith("32f")  # X-CLIP's zero-shot configs: 32 frames
    from bench.job import validate_cells

    validate_cells(grids.load(REPO / "ablations" / f"{grid}.yaml", "default").specs)


def test_bike_zeroshot_grid_runs_both_scorings():
    from bench import grid as grids

    g = grids.load(REPO / "ablations" / "bike_zeroshot.yaml", "default")
    cells = {(s.protocol_args["mode"], s.protocol_args["scoring"]) for s in g.specs}
    assert cells == {("half", "model"), ("half", "frames"), ("full", "model"), ("full", "frames")}
