"""How often alt's training-time Gumbel assignment (Eq. 4) picks the entity the clean argmax picks.

Usage: ``python benchmarks/alt_gumbel_agreement.py [--videos 8] [--draws 10] [--scales 1 clip 100]``

The tiny alt model of the synthetic world (tiny CLIP with its synthetic weights, the syn_k400
entity corpus) encodes ``--videos`` training videos of syn_k400 through its test pipeline; for
every region-aware token, after ToMe, the cosine similarities to the entities are multiplied by
each scale of ``--scales`` (``clip`` = the CLIP's learned logit scale, ``model.backbone.logit_scale:
"clip"``; 1 = the literal reading of Eq. 4 with appendix B's tau = 1), Gumbel(0, 1) noise is added
``--draws`` times, and the script prints the share of tokens whose noisy argmax equals the clean one,
next to chance (1 / K). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--scales", nargs="+", default=["1", "clip", "100"])
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from mmaction.registry import MODELS
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from bench.data.catalog import get_dataset
    from bench.method import load_config
    from methods.alt.align import gumbel_assignment
    from methods.alt.recognizer import clip_logit_scale

    torch.manual_seed(0)
    init_default_scope("mmaction")
    cfg = load_config("alt", "tiny")
    model = MODELS.build(cfg.model.to_dict()).eval()
    ds = get_dataset("syn_k400")
    lines = ds.splits["train"].read_text().splitlines()[: args.videos]
    pipeline = Compose(cfg.test_pipeline)
    clips = [pipeline(dict(filename=str(ds.video_root / ln.split()[0]), label=0, start_index=0, modality="RGB"))
             for ln in lines]
    batch = model.data_preprocessor({"inputs": [c["inputs"] for c in clips],
                                     "data_samples": [c["data_samples"] for c in clips]})["inputs"].flatten(0, 1)
    bb = model.backbone
    with torch.no_grad():
        b, c, t, h, w = batch.shape
        tokens, _ = bb.encoder(batch.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), t)
        sim = F.normalize(bb.encoder.project(tokens), dim=-1) @ bb.aligner.entities.t()
    clean = sim.argmax(-1)
    k = sim.shape[-1]
    top2 = sim.topk(2, dim=-1).values
    print(f"{args.videos} videos x {t} frames x {sim.shape[1]} tokens = {clean.numel()} tokens, K = {k} entities "
          f"(chance {100 / k:.1f} %); cosine best - second: median {float((top2[..., 0] - top2[..., 1]).median()):.4f}")
    gen = torch.Generator().manual_seed(0)
    for s in args.scales:
        scale = clip_logit_scale(cfg.model.backbone.clip_arch, cfg.model.backbone.clip_weights,
                                 "clip" if s == "clip" else float(s))
        agree = [(gumbel_assignment(sim * scale, 1.0, noise=True, generator=gen).argmax(-1) == clean).float().mean()
                 for _ in range(args.draws)]
        label = f"clip ({scale:.2f})" if s == "clip" else f"{scale:g}"
        share = 100 * float(torch.stack(agree).mean())
        print(f"logit_scale {label:>14}: noisy argmax = clean argmax for {share:.1f} % of tokens "
              f"(mean of {args.draws} draws)")


if __name__ == "__main__":
    main()
