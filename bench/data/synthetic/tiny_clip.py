"""A tiny CLIP trained contrastively on the world: frames with what one frame shows, clips with their motion.

Two kinds of pairs are rendered on the fly, and each step averages three symmetric InfoNCE losses of
CLIP (Radford et al. 2021, Fig. 3): frame pairs, clip pairs, and each clip caption against its clip's
middle frame alone (the look, which keeps the appearance in the text beside the motion):

- **frame pairs**: a random static combination (actor shape and colour, object, floor pattern, rug
  colour) in a random frame of a random motion, captioned with its static factors only (never the
  motion, which one frame cannot show);
- **clip pairs**: a short stack of ``STACK`` frames of a clip, captioned at clip level with one of
  the world's motion captions (``world.motion_captions``: the verb and the speed, the order of the
  motion's sub-actions, the movement alone). Each static combination comes twice in a batch, with
  two different motions (a reverse pair where it has one), so the only way to tell the two captions
  apart is the motion. The clip's image side is the CLIP image embedding of its middle frame (the
  appearance) plus ``MOTION_WEIGHT`` times a small temporal tower's (``MotionTower``) output over
  the stacked frames and their differences (the motion), both L2-normalised. The tower first
  learns to tell the world's motions apart (``pretrain_tower``); it is a training device and is
  not saved. A step has ``clip_batch`` frame pairs and ``clip_batch // 2`` clip pairs.

So the text encoder learns motion words and their order, and the image encoder stays a per-frame
encoder (the methods that need one use it per frame). Static combinations used by the K600-like
classes are held out of both kinds, so zero-shot accuracy on those classes measures generalisation
to new combinations of seen factors. Training is deterministic from its seed on CPU. The result is
an open_clip state dict that ``bench.models.clip.create_clip("vlbench-tiny-vit", path)`` loads like
real CLIP weights.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import time
from collections.abc import Iterator
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
STACK = 4  # frames of a clip pair, at equal steps through the clip
# The clip's image side is look + MOTION_WEIGHT * motion (both unit vectors): at 1 or more the motion outweighs the
# appearance and the text learns the same (descriptions of one motion with different looks closer than motion twins).
MOTION_WEIGHT = 0.6
TOWER_STEPS = 200  # motion steps of the temporal tower before the contrastive ones (``pretrain_tower``)


class MotionTower(torch.nn.Module):
    """The clip pairs' temporal image side: a small conv net over a stack of frames and their differences.

    Input (N, T, 3, H, W) normalised frames; output (N, dim). Pooled at half resolution, so a displacement
    between frames lies within its receptive field.
    """

    def __init__(self, frames: int, dim: int) -> None:
        super().__init__()
        ch = 3 * frames + 3 * (frames - 1)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(ch, 48, 3, stride=2, padding=1), torch.nn.GELU(),
            torch.nn.Conv2d(48, 64, 3, stride=2, padding=1), torch.nn.GELU(),
            torch.nn.Conv2d(64, 64, 3, stride=2, padding=1), torch.nn.GELU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x.flatten(0, 1), 2).unflatten(0, x.shape[:2])
        return self.net(torch.cat([x.flatten(1, 2), (x[:, 1:] - x[:, :-1]).flatten(1, 2)], dim=1))


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


def sample_clip_pair(static: tuple[str, ...], motion: str, rng: np.random.Generator,
                     size: int) -> tuple[np.ndarray, str]:
    """``STACK`` frames at equal steps through a clip of ``static`` doing ``motion``, and a motion caption."""
    spec = world.ClassSpec(static[0], static[1], motion, static[2], static[3], static[4])
    clip = render.sample_clip(spec, rng, 16, brief_prob=0.0)
    start = int(rng.integers(0, 16 - 3 * (STACK - 1)))
    frames = np.stack([render.render_frame(clip, size, start + 3 * i, rng) for i in range(STACK)])
    captions = world.motion_captions(spec, clip["speed"])
    return frames, captions[int(rng.integers(len(captions)))]


def twin_motions(shape: str, rng: np.random.Generator) -> tuple[str, str]:
    """Two different motions valid for ``shape``: a reverse pair when the draw lands on one that has it."""
    motions = [m for m in world.MOTIONS if world.valid(shape, m)]
    first = motions[int(rng.integers(len(motions)))]
    if first in world.REVERSE:
        return first, world.REVERSE[first]
    rest = [m for m in motions if m != first]
    return first, rest[int(rng.integers(len(rest)))]


def stacks_to_tensor(stacks: list[np.ndarray]) -> torch.Tensor:
    """uint8 frame stacks, each (T, H, W, 3) -> normalised float (N, T, 3, H, W)."""
    stack = np.stack(stacks)
    return to_tensor(stack.reshape(-1, *stack.shape[2:])).unflatten(0, stack.shape[:2])


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
        tower = MotionTower(STACK, model.text_projection.shape[1])
        tok = open_clip.get_tokenizer(ARCH)
        statics = training_statics(cfg)
        rng = np.random.default_rng([seed, 51])
        batches = prefetched(_batches(cfg, statics, rng, steps))
        try:
            tower_stats = pretrain_tower(tower, batches, TOWER_STEPS)
            opt = torch.optim.AdamW([*model.parameters(), *tower.parameters()], lr=2e-3, weight_decay=0.05)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
            t0, losses = time.time(), []
            model.train()
            for _ in range(steps):
                frame_images, frame_texts, clip_stacks, clip_texts = next(batches)
                img, txt, scale = model(to_tensor(frame_images), tok(frame_texts))
                loss_frames = _info_nce(scale * img @ txt.t())
                frames = stacks_to_tensor(clip_stacks)
                look = F.normalize(model.encode_image(frames[:, STACK // 2]), dim=-1)  # appearance: one frame
                clip_img = F.normalize(look + MOTION_WEIGHT * F.normalize(tower(frames), dim=-1), dim=-1)
                clip_txt = F.normalize(model.encode_text(tok(clip_texts)), dim=-1)
                loss_clips = _info_nce(scale * clip_img @ clip_txt.t())
                loss_look = _info_nce(scale * look @ clip_txt.t())
                loss = (loss_frames + loss_clips + loss_look) / 3
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append((loss_frames.item(), loss_clips.item(), loss_look.item()))
        finally:
            batches.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out)
    finally:
        torch.set_num_threads(threads)
    last = np.mean(losses[-20:], axis=0)
    return {"steps": steps, "batch": cfg.clip_batch, "seed": seed, "final_loss": float(last.mean()),
            "final_loss_frames": float(last[0]), "final_loss_clips": float(last[1]), "final_loss_look": float(last[2]),
            "train_seconds": round(time.time() - t0, 1), "train_statics": len(statics), **tower_stats}


def _batches(cfg: SizeConfig, statics: list[tuple[str, ...]], rng: np.random.Generator,
             steps: int, tower_batch: int = 32) -> Iterator[tuple[Any, ...]]:
    """Every rendered batch of the training, in order, from one generator ``rng``.

    First ``TOWER_STEPS`` batches of ``pretrain_tower`` (a list of ``tower_batch`` frame stacks and their motion
    indices), then ``steps`` batches of the contrastive steps: ``clip_batch`` frame pairs (uint8 frames and their
    static captions) and the clip pairs of the first quarter of those statics, two motions each (uint8 frame
    stacks and their motion captions). Only this generator draws from ``rng``, so the batches and their order
    do not depend on where it runs (``prefetched``).
    """
    motions = list(world.MOTIONS)
    for _ in range(TOWER_STEPS):
        stacks, labels = [], []
        for i in rng.choice(len(statics), size=tower_batch, replace=False):
            pair = twin_motions(statics[i][0], rng)
            m = pair[int(rng.integers(2))]
            stacks.append(sample_clip_pair(statics[i], m, rng, 64)[0])
            labels.append(motions.index(m))
        yield stacks, labels
    for _ in range(steps):
        idx = rng.choice(len(statics), size=cfg.clip_batch, replace=False)
        pairs = [sample_pair(statics[i], rng, 64) for i in idx]
        clips = []
        for i in idx[:cfg.clip_batch // 4]:
            clips += [sample_clip_pair(statics[i], m, rng, 64) for m in twin_motions(statics[i][0], rng)]
        yield (np.stack([p[0] for p in pairs]), [p[1] for p in pairs],
               [c[0] for c in clips], [c[1] for c in clips])


class prefetched:  # noqa: N801 - used like a generator
    """Runs a batch generator in a forked child process, a few batches ahead of the training that consumes them.

    Rendering is numpy work in one thread and the training runs torch in one thread (``train``), so on a
    2-core machine the two overlap instead of taking turns. The batches arrive in the generator's order and
    are the same objects it yields (pickled), so the trained weights are the same bytes as rendering in the
    training process. Where ``fork`` is not available the generator runs in this process. An exception in the
    child is raised here; ``close`` stops the child.
    """

    def __init__(self, gen: Iterator[Any], ahead: int = 4) -> None:
        import multiprocessing as mp

        self._gen, self._proc = gen, None
        if "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
            return  # a daemonic process may not start children
        ctx = mp.get_context("fork")
        self._queue = ctx.Queue(maxsize=ahead)
        self._proc = ctx.Process(target=self._produce, args=(gen, self._queue, os.getpid()), daemon=True)
        self._proc.start()

    @staticmethod
    def _produce(gen: Iterator[Any], out: Any, parent: int) -> None:
        def put(message: tuple[str, Any]) -> None:
            while True:  # gives up when the training process is gone (its queue then never drains)
                try:
                    return out.put(message, timeout=5)
                except queue.Full:
                    if os.getppid() != parent:
                        raise SystemExit(1) from None

        try:
            for item in gen:
                put(("batch", item))
            put(("end", None))
        except SystemExit:
            raise
        except BaseException as exc:  # the training process re-raises it
            put(("error", f"{type(exc).__name__}: {exc}"))

    def __iter__(self) -> prefetched:
        return self

    def __next__(self) -> Any:
        if self._proc is None:
            return next(self._gen)
        while True:
            try:
                kind, item = self._queue.get(timeout=5)
                break
            except queue.Empty:
                if not self._proc.is_alive():
                    raise RuntimeError(f"the tiny CLIP's batch process ended with exit code {self._proc.exitcode} "
                                       "before its batches did") from None
        if kind == "error":
            raise RuntimeError(f"rendering a tiny CLIP batch failed in the batch process: {item}")
        if kind == "end":
            raise StopIteration
        return item

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()


def pretrain_tower(tower: MotionTower, batches: Iterator[tuple[list[np.ndarray], list[int]]],
                   steps: int) -> dict[str, float]:
    """Teach the temporal tower to see motion before the contrastive steps: which of the world's motions a
    stack shows (a linear head over its output, dropped afterwards), on clips of the training statics
    (``steps`` batches of ``batches``: frame stacks and their motion indices). From a random start the
    contrastive loss alone, whose captions also name the appearance, does not get there in the steps the
    world can afford; seeing the motion first, the tower gives the text a motion to match."""
    head = torch.nn.Linear(tower.net[-1].out_features, len(world.MOTIONS))
    opt = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=5e-3, weight_decay=0.05)
    t0, hits = time.time(), []
    for _ in range(steps):
        stacks, labels = next(batches)
        logits = head(tower(stacks_to_tensor(stacks)))
        target = torch.tensor(labels)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hits.append(float((logits.argmax(1) == target).float().mean()))
    return {"tower_steps": steps, "tower_motion_accuracy_last20": float(np.mean(hits[-20:])),
            "tower_seconds": round(time.time() - t0, 1)}


def _info_nce(logits: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE over a square logit matrix whose diagonal holds the pairs."""
    target = torch.arange(len(logits))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


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
