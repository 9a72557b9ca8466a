"""Per-iteration training overhead of the harness (MMEngine Runner + hooks) over a bare PyTorch loop.

Both loops train the same model (the tiny clip_meanpool recognizer, random init), on the same
pre-decoded batches held in memory, with the same optimizer, in one process, so the difference
is what the harness adds per iteration: hooks, logging, the optimizer wrapper, the message hub.
Decoding is excluded from both on purpose (it is the same MMAction2 pipeline in both cases).
Target: overhead <= 5 %. Times are CPU time of this process (``time.process_time``) with one
torch thread, so that other work on a shared machine disturbs the figure as little as possible;
repeats are interleaved and the best of each is kept.

    python benchmarks/harness_overhead.py [--iters 60] [--batch 8] [--frames 8]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time

import torch


def make_batches(model, n: int, batch: int, frames: int, size: int, num_classes: int):
    from mmaction.structures import ActionDataSample

    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        shape = (1, 3, frames, size, size)
        inputs = [torch.randint(0, 255, shape, generator=g, dtype=torch.uint8) for _ in range(batch)]
        samples = [ActionDataSample().set_gt_labels(torch.randint(0, num_classes, (1,), generator=g))
                   for _ in range(batch)]
        out.append({"inputs": inputs, "data_samples": samples})
    return out


class InMemory(torch.utils.data.Dataset):
    def __init__(self, batches):
        self.items = [({"inputs": b["inputs"][i], "data_samples": b["data_samples"][i]}) for b in batches
                      for i in range(len(b["inputs"]))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def bare_loop(model, batches, lr: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    start = time.process_time()
    for data in batches:
        data = model.data_preprocessor(data, training=True)
        losses = model(**data, mode="loss")
        loss = sum(v for k, v in losses.items() if "loss" in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.process_time() - start) / len(batches)


def runner_loop(model, batches, lr: float, batch: int, work_dir: str) -> float:
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    class Timer(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if batch_idx == 0:
                self.t0 = time.process_time()

        def after_train(self, runner):
            self.elapsed = time.process_time() - self.t0

    timer = Timer()
    loader = torch.utils.data.DataLoader(InMemory(batches), batch_size=batch, shuffle=False, num_workers=0,
                                         collate_fn=lambda xs: {"inputs": [x["inputs"] for x in xs],
                                                                "data_samples": [x["data_samples"] for x in xs]})
    runner = Runner(model=model, work_dir=work_dir, train_dataloader=loader,
                    train_cfg=dict(by_epoch=False, max_iters=len(batches)),
                    optim_wrapper=dict(optimizer=dict(type="AdamW", lr=lr)),
                    default_hooks=dict(logger=dict(type="LoggerHook", interval=20),
                                       checkpoint=dict(type="CheckpointHook", interval=10 ** 9)),
                    custom_hooks=[timer], default_scope="mmaction", log_level="WARNING")
    runner.train()
    return timer.elapsed / len(batches)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=60)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("BENCH_HOME", tempfile.mkdtemp())
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    import methods  # noqa: F401
    from bench.method import load_config

    register_all_modules()
    torch.manual_seed(0)
    cfg = load_config("clip_meanpool", "tiny")
    cfg.model.backbone.clip_weights = None
    cfg.model.cls_head.clip_weights = None
    cfg.model.cls_head.class_names = [f"class {i}" for i in range(16)]
    base = MODELS.build(cfg.model)
    batches = make_batches(base, args.iters, args.batch, args.frames, cfg.img_size, 16)
    bare_loop(copy.deepcopy(base), batches[:5], 1e-4)  # warm-up
    bare, harness = [], []
    with tempfile.TemporaryDirectory() as wd:
        for _ in range(args.repeats):  # interleaved, best of N: robust to a busy machine
            bare.append(bare_loop(copy.deepcopy(base), batches, 1e-4))
            harness.append(runner_loop(copy.deepcopy(base), batches, 1e-4, args.batch, wd))
    b, h = min(bare), min(harness)
    print(f"model: clip_meanpool tiny, batch {args.batch} x {args.frames} frames x {cfg.img_size}^2, "
          f"{args.iters} iterations, best of {args.repeats}, torch threads {torch.get_num_threads()}")
    print(f"bare PyTorch loop : {1000 * b:.2f} ms/iter")
    print(f"MMEngine Runner   : {1000 * h:.2f} ms/iter")
    print(f"overhead: {100 * (h / b - 1):+.2f} % (ratio {h / b:.3f}; target <= 5 %)")


if __name__ == "__main__":
    main()
