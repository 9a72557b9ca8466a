"""Where bike's training-free VCS puts its frame saliency on the synthetic world's brief clips.

Usage: ``BENCH_SYNTH_SIZE=tiny python benchmarks/bike_vcs_saliency.py [--per-class 15] [--seed 0]``

The clips are the ones of ``tests/methods/test_bike.py``'s training-free tests: every class of syn_k400 rendered
``--per-class`` times with the actor visible in a few consecutive frames only (brief clips, 8 of 16 frames read),
the tiny bike config with no temporal layer, the world's tiny CLIP. Printed: top-1 of VCS and of mean pooling;
the share of the 8 frames that show the actor; the saliency (Eq. 5) the true class puts on those frames; for
the wrong VCS predictions, the saliency the winning class puts on them; and, per factor of the world, how often
a wrong prediction shares it with the true class against how often two classes do. Figures only; nothing is
asserted (the test asserts the top-1 comparison).
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    import torch
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from bench.data.catalog import get_dataset
    from bench.data.synthetic import render, world
    from bench.method import load_config
    from methods.bike.vcs import concept_saliency

    register_all_modules()
    torch.set_num_threads(1)
    ds = get_dataset("syn_k400")
    cfg = load_config("bike", "tiny")
    cfg.model.backbone.temporal_layers = 0
    cfg.model.cls_head.train_branches = ["video"]
    model = MODELS.build(cfg.model).eval()
    head = model.cls_head
    info = json.loads((ds.video_root / "class_info.json").read_text())

    frames_u8, labels, shown = render.class_clips(info, args.per_class, args.seed, brief=True)
    pixel_mean = torch.tensor(cfg.model.data_preprocessor.mean)[None, :, None, None, None]
    pixel_std = torch.tensor(cfg.model.data_preprocessor.std)[None, :, None, None, None]
    x = (torch.from_numpy(frames_u8).float().permute(0, 4, 1, 2, 3) - pixel_mean) / pixel_std
    y, vis = torch.tensor(labels), torch.from_numpy(shown).float()

    with torch.no_grad():
        frames = model.backbone(x)
        cats = head.video_categories()
        saliency = concept_saliency(frames, cats["words"], cats["word_mask"], head.vcs_temperature)
        head.aggregation = "vcs"
        vcs = head.video_scores(frames, cats).argmax(1)
        head.aggregation = "mean"
        mean = head.video_scores(frames, cats).argmax(1)
    rows = torch.arange(len(y))
    wrong = vcs != y
    on_actor = lambda cls: (saliency[rows, cls] * vis).sum(1)  # noqa: E731
    out = {
        "clips": len(y), "vcs top-1": round(100 * float((vcs == y).float().mean()), 1),
        "mean pooling top-1": round(100 * float((mean == y).float().mean()), 1),
        "actor frames' share of the frames": round(float(vis.mean()), 3),
        "true class's saliency on the actor frames": round(float(on_actor(y).mean()), 3),
        "wrong VCS predictions": int(wrong.sum()),
        "their winning class's saliency on the actor frames": round(float(on_actor(vcs)[wrong].mean()), 3),
    }
    pairs = [(a, b) for a in range(len(info)) for b in range(len(info)) if a != b]
    for key in world.FACTOR_NAMES:
        same = [info[int(p)]["factors"][key] == info[int(t)]["factors"][key] for p, t in zip(vcs[wrong], y[wrong])]
        base = [info[a]["factors"][key] == info[b]["factors"][key] for a, b in pairs]
        out[f"{key}: wrong prediction shares it / two classes do"] = (
            f"{np.mean(same):.2f} / {np.mean(base):.2f}" if same else "n/a")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
