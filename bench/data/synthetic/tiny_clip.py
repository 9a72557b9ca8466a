"""A tiny CLIP trained contrastively on single frames of the world and what one frame shows.

Image-text pairs are rendered on the fly: a random static combination (actor shape and colour,
object, scene pattern and colour) in a random frame of a random motion, captioned with its static
factors only (never the motion, which one frame cannot show). Static combinations used by the
K600-like classes are held out, so zero-shot accuracy on those classes measures generalisation to
new combinations of seen factors. Training uses the symmetric InfoNCE loss of CLIP (Radford et al.
2021, Fig. 3) and is deterministic from its seed on CPU. The result is an open_clip state dict
that ``bench.models.clip.create_clip("vlbench-tiny-vit", path)`` loads like real CLIP weights.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.data.synthetic import render, storage, world
from bench.data.synthetic.sizes import SizeConfig, get_size

ARCH = "vlbench-tiny-vit"
WEIGHTS_FILE = f"{ARCH}.pt"
# open_clip's default (OpenAI) normalisation, so the model's own preprocessing applies unchanged.
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def holdout_statics(cfg: SizeConfig) -> set[tuple[str | None, ...]]:
    """Static combinations of the K600-like classes: never shown to the tiny CLIP in training."""
    plan = world.plan_classes(cfg.class_counts(), cfg.seed, fixed_scene=("syn_k600",))
    return {c.static for c in plan["syn_k600"]}


def training_statics(cfg: SizeConfig) -> list[tuple[str, str, str, str, str]]:
    held = holdout_statics(cfg)
    return [s for s in itertools.product(world.SHAPES, world.COLOURS, world.OBJECTS, world.PATTERNS,
                                         world.SCENE_COLOURS) if s not in held]


def sample_pair(static: tuple[str, ...], rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """One rendered frame of ``static`` (any valid motion, a visible frame) and its static caption."""
    shape, colour, obj, pattern, bg = static
    motions = [m for m in world.MOTIONS if world.valid(shape, m)]
    spec = world.ClassSpec(shape, colour, motions[int(rng.integers(len(motions)))], obj, pattern, bg)
    clip = render.sample_clip(spec, rng, 16, brief_prob=0.0)
    frame = render.render_frame(clip, size, int(rng.integers(16)), rng)
    return frame, spec.static_caption()


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W) as open_clip expects."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


def train(cfg: SizeConfig, out: Path, seed: int | None = None, steps: int | None = None) -> dict[str, Any]:
    """Train the tiny CLIP and save its state dict to ``out``; returns training statistics."""
    import open_clip

    from bench.models.clip import create_clip

    seed = cfg.seed if seed is None else seed
    steps = steps or cfg.clip_steps
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic and polite on a shared CPU
    try:
        model = create_clip(ARCH, None)
        tok = open_clip.get_tokenizer(ARCH)
        statics = training_statics(cfg)
        rng = np.random.default_rng([seed, 51])
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
        t0, losses = time.time(), []
        model.train()
        for _ in range(steps):
            idx = rng.choice(len(statics), size=cfg.clip_batch, replace=False)
            pairs = [sample_pair(statics[i], rng, 64) for i in idx]
            images = to_tensor(np.stack([p[0] for p in pairs]))
            texts = tok([p[1] for p in pairs])
            img, txt, scale = model(images, texts)
            logits = scale * img @ txt.t()
            target = torch.arange(len(pairs))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2  # CLIP InfoNCE
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out)
    finally:
        torch.set_num_threads(threads)
    return {"steps": steps, "batch": cfg.clip_batch, "seed": seed, "final_loss": float(np.mean(losses[-20:])),
            "train_seconds": round(time.time() - t0, 1), "train_statics": len(statics)}


@torch.no_grad()
def zero_shot_unseen(model: torch.nn.Module, size: str | None = None, frames_per_video: int = 1) -> dict[str, float]:
    """Zero-shot accuracy on frames of the K600-like classes (unseen static combinations).

    Prompts are the static captions of those classes (deduplicated: classes that differ only in
    motion share one), so chance is ``1 / number of prompts``.
    """
    import open_clip

    from bench.data.catalog import get_dataset
    from bench.data.synthetic import video_io

    info = get_dataset_for_size("syn_k600", size) if size else get_dataset("syn_k600")
    ci = json.loads(Path(info.extra["class_info"]).read_text())
    prompts = sorted({c["static_caption"] for c in ci})
    target_of = [prompts.index(c["static_caption"]) for c in ci]
    rows = [json.loads(line) for line in Path(info.extra["meta"]).read_text().splitlines()]
    frames, targets = [], []
    for r in rows:
        vis = r["visible_frames"]
        frames.append(video_io.read_frames(info.video_root / r["video"])[vis[len(vis) // 2]])
        targets.append(target_of[r["label"]])
    model.eval()
    tok = open_clip.get_tokenizer(ARCH)
    img = F.normalize(model.encode_image(to_tensor(np.stack(frames))), dim=-1)
    txt = F.normalize(model.encode_text(tok(prompts)), dim=-1)
    pred = (img @ txt.t()).argmax(-1).numpy()
    acc = float(np.mean(pred == np.array(targets)))
    return {"accuracy": acc, "chance": 1.0 / len(prompts), "num_prompts": len(prompts), "num_frames": len(frames)}


def get_dataset_for_size(name: str, size: str) -> Any:
    from bench.data.synthetic.datasets import dataset_info

    return dataset_info(name, size)


def tiny_clip_weights(size: str | None = None) -> Path:
    """Path of the tiny CLIP checkpoint of ``size``, training and caching it on first use."""
    cfg = get_size(size)
    root = storage.part_dir(cfg.name, "tiny_clip")

    def build(tmp: Path) -> dict[str, Any]:
        stats = train(cfg, tmp / WEIGHTS_FILE)
        from bench.models.clip import create_clip

        stats.update(zero_shot_unseen(create_clip(ARCH, str(tmp / WEIGHTS_FILE)), cfg.name))
        (tmp / "train_stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True))
        return {"part": "tiny_clip", "arch": ARCH, "size": cfg.name, "seed": cfg.seed}

    storage.build_once(root, build)
    return root / WEIGHTS_FILE
