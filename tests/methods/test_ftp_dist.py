"""FTP's stage-1 InfoNCE across ranks: two gloo processes give the single-process loss of the whole batch."""

from __future__ import annotations

import os
import pathlib
import socket

import pytest
import torch
import torch.nn.functional as F

TAU = 0.1


def _global_batch():
    """8 videos; videos 0 and 5 got the same answer (a positive pair across ranks); video 6 has no answer."""
    g = torch.Generator().manual_seed(7)
    visual, text = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    text[5] = text[0]
    ids = torch.tensor([0, 1, 2, 3, 4, 0, -1, 5])
    present = ids >= 0
    return visual, text, ids, present


def _by_hand(visual, text, ids, present):
    """The symmetric multi-positive InfoNCE written out: -log(sum over positives / sum over all), both ways."""
    keep = [i for i in range(len(ids)) if present[i]]
    v = F.normalize(visual[keep], dim=-1)
    t = F.normalize(text[keep], dim=-1)
    sim = (v @ t.t()) / TAU
    k = ids[keep]
    total = 0.0
    n = len(keep)
    for i in range(n):
        pos = [j for j in range(n) if k[j] == k[i]]
        total = total - torch.log(sum(torch.exp(sim[i, j]) for j in pos) / torch.exp(sim[i]).sum()) / (2 * n)
        total = total - torch.log(sum(torch.exp(sim[j, i]) for j in pos) / torch.exp(sim[:, i]).sum()) / (2 * n)
    return total


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    from methods.ftp.processors import info_nce

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        visual, text, ids, present = _global_batch()
        n = visual.shape[0] // world
        sl = slice(rank * n, (rank + 1) * n)
        local = visual[sl].clone().requires_grad_(True)
        loss = info_nce(local, text[sl], TAU, ids[sl], present[sl])
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": local.grad}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_rank_info_nce_equals_the_single_process_loss_of_the_concatenated_batch(tmp_path, monkeypatch):
    import torch.multiprocessing as mp

    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[2]))  # the spawned ranks import us
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    visual, text, ids, present = _global_batch()
    full = visual.clone().requires_grad_(True)
    single = _by_hand(full, text, ids, present)
    single.backward()
    for r in range(2):
        out = torch.load(tmp_path / f"rank{r}.pt")
        assert torch.allclose(out["loss"], single.detach(), atol=1e-5), (r, out["loss"], single)
        # the gather's backward sums both ranks' (equal) losses into the local rows: 2x; DDP's mean halves it
        assert torch.allclose(out["grad"], 2 * full.grad[r * 4:(r + 1) * 4], atol=1e-5), r
    # and the local-batch loss (no gather) is a different number: negatives from the local batch only
    from methods.ftp.processors import info_nce

    local0 = info_nce(visual[:4], text[:4], TAU, ids[:4], present[:4])
    assert not torch.allclose(local0, single.detach(), atol=1e-3)
