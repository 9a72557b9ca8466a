"""Per-view agreement of a multi-view test (issue 23): each view's top-1, taken before the head averages the views,
and the fraction of a video's views that agree with its video-level top-1, on a 2-view case checked by hand.

The model is the real tiny baseline (random-init tiny CLIP, four class names); the hand computation runs every
view through the model on its own (one view per video: the head's ``average_clips='prob'`` gives that view's
softmax), averages the two views' probabilities and takes the argmax, as MMAction2's ``average_clip`` defines it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

CLASSES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def model():
    import methods  # noqa: F401  (registers the methods' modules)
    from bench.method import apply_overrides, load_config
    from protocols import engine

    cfg = load_config("clip_meanpool", "tiny")
    apply_overrides(cfg, {"model.backbone.clip_weights": None, "model.cls_head.clip_weights": None})
    engine.set_classes(cfg.model, CLASSES)
    torch.manual_seed(0)
    return engine.build_model(cfg), cfg


def _step(model, clips: list[torch.Tensor], labels: list[int]):
    from mmaction.structures import ActionDataSample

    samples = [ActionDataSample().set_gt_labels(torch.tensor([lab])) for lab in labels]
    with torch.no_grad():
        return model.test_step({"inputs": clips, "data_samples": samples})


def test_two_view_agreement_matches_a_hand_computation(model, tmp_path):
    from bench import predictions
    from bench.metrics import BenchAccMetric
    from bench.view_agreement import per_view_top1

    model, cfg = model
    frames, size = int(cfg.num_frames), int(cfg.img_size)
    pool = []  # solid-colour clips (random noise clips all look alike to a random-init CLIP)
    for rgb in [(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 128, 255)]:
        clip = torch.zeros(1, 3, frames, size, size, dtype=torch.uint8)
        clip[:, :] = torch.tensor(rgb, dtype=torch.uint8)[None, :, None, None, None]
        pool.append(clip)
    probs = [s.pred_scores.item.numpy() for s in _step(model, pool, [0] * len(pool))]  # one view each, by hand
    top = [int(np.argmax(p)) for p in probs]
    j = next((j for j in range(1, len(pool)) if top[j] != top[0]), None)
    assert j is not None, f"all {len(pool)} clips have the same top-1: no disagreeing pair to test with"
    # video 0: views (clip 0, clip j), whose top-1s differ; video 1: (clip 0, clip 0), two identical views
    pairs = [(0, j), (0, 0)]
    videos = [torch.cat([pool[a], pool[b]]) for a, b in pairs]
    video_top = [int(np.argmax((probs[a] + probs[b]) / 2)) for a, b in pairs]
    expected = [np.mean([top[a] == t, top[b] == t]) for (a, b), t in zip(pairs, video_top)]
    assert expected[1] == 1.0 and expected[0] in (0.0, 0.5)

    with per_view_top1(model) as hooked:
        out = _step(model, videos, [1, 2])
    assert hooked and "average_clip" not in vars(model.cls_head) and "test_step" not in vars(model)
    assert [s.view_top1.tolist() for s in out] == [[top[a], top[b]] for a, b in pairs]
    assert [int(s.pred_scores.item.argmax()) for s in out] == video_top

    # through the metric's dump into the kept predictions
    metric = BenchAccMetric(metric_list=("top_k_accuracy",), dump_path=str(tmp_path / "predictions_views"))
    metric.process(None, [s.to_dict() for s in out])
    metric.compute_metrics(metric.results)
    ann = tmp_path / "test.txt"
    ann.write_text("v0.mp4 1\nv1.mp4 2\n")
    arrays = predictions.episode_arrays(tmp_path / "predictions_views.npz", ann)
    assert arrays["view_agreement"].tolist() == expected and int(arrays["num_views"]) == 2

    # a single-view test keeps no per-view field
    with per_view_top1(model):
        single = _step(model, [pool[0]], [0])
    assert "view_top1" not in single[0]
