"""The trainable parts of FTP: feature processors, the integration layer, and the stage-1 loss.

ftp paper (../shared/papers/ftp_four_tiered_prompts.txt), section 3.1 and Fig. 2(b), Fig. 3,
appendix A.1 Table 1. Shapes follow the paper: the encoder's last feature map
``m in R^{T x h x w x D}`` is unfolded to ``T x N x D`` (``N = h*w``); a processor pools it
spatially to ``s_i in R^{T x D}`` and temporally to ``t_i in R^{N x D}``, projects both and
concatenates them into ``v_i in R^{(T+N) x D}``. The integration layer replicates ``v_i`` back
onto the ``T x N`` grid, projects it, and the sum over processors is added to ``m``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError

POOLS = ("mean", "max")


def unfold(m: torch.Tensor) -> torch.Tensor:
    """``(B, T, h, w, D)`` -> ``(B, T, N, D)`` with ``N = h*w`` (the paper's spatial unfolding)."""
    if m.dim() != 5:
        raise ConfigError(f"FTP feature map must be (B, T, h, w, D), got shape {tuple(m.shape)}")
    b, t, h, w, d = m.shape
    return m.reshape(b, t, h * w, d)


class FeatureProcessor(nn.Module):
    """One of the four processors (Fig. 2b): spatial and temporal pooling, projection, concatenation.

    Args:
        dim: feature depth ``D``.
        pool: ``mean`` (average pooling) or ``max``; the paper says "pooling" without the kind.

    ``forward(m)`` takes ``(B, T, h, w, D)`` and returns ``v_i`` of shape ``(B, T + N, D)``: the
    ``T`` spatially pooled rows first, then the ``N`` temporally pooled rows. One projection
    (a 1x1 ``Conv1d`` in Table 1, i.e. a shared linear map D -> D) projects both pooled
    representations "onto their input dimensions".
    """

    def __init__(self, dim: int, pool: str = "mean") -> None:
        super().__init__()
        if pool not in POOLS:
            raise ConfigError(f"FeatureProcessor.pool={pool!r}; accepted: {', '.join(POOLS)}")
        self.pool = pool
        self.proj = nn.Linear(dim, dim)

    def pooled(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s_i, t_i)``: spatial pooling -> ``(B, T, D)``, temporal pooling -> ``(B, N, D)``."""
        x = unfold(m)
        if self.pool == "mean":
            return x.mean(dim=2), x.mean(dim=1)
        return x.amax(dim=2), x.amax(dim=1)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        s, t = self.pooled(m)
        return self.proj(torch.cat((s, t), dim=1))  # (B, T + N, D); the projection acts per row


class Integration(nn.Module):
    """Replicate ``v_i`` onto the ``T x N`` grid and project it (Fig. 3; Table 1's depthwise-separable layer).

    Replication is learned per processor: position ``(t, n)`` of the grid receives
    ``sum_c A[c, t, n] * v_i[c]`` over the ``T + N`` rows ``c`` of ``v_i`` (a depthwise kernel
    with ``T + N`` channels and a ``T x N`` extent, as Table 1 sizes it), initialised to plain
    replication (``A = 1`` on row ``t`` and on row ``T + n``, else 0), followed by the pointwise
    projection ``D -> D`` into the encoder's embedding space (zero-initialised). The projection is linear, so it is
    applied to the ``T + N`` rows before they are spread over the grid (same result, fewer FLOPs).

    Args:
        dim: ``D``; frames: ``T``; tokens: ``N = h*w``.
    """

    def __init__(self, dim: int, frames: int, tokens: int) -> None:
        super().__init__()
        self.frames, self.tokens = frames, tokens
        self.proj = nn.Linear(dim, dim)
        # Zero-initialised projection: at the start of stage 2 the integrated map is the encoder's map alone
        # (group 1 of Table 7), and each processor's contribution grows only as far as it helps the loss.
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.spread = nn.Parameter(self.replication(frames, tokens))

    @staticmethod
    def replication(frames: int, tokens: int) -> torch.Tensor:
        """The plain replication kernel ``A in R^{(T+N) x T x N}``: row t -> frame t, row T+n -> token n."""
        a = torch.zeros(frames + tokens, frames, tokens)
        a[torch.arange(frames), torch.arange(frames), :] = 1.0
        a[frames + torch.arange(tokens), :, torch.arange(tokens)] = 1.0
        return a

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """``(B, T + N, D)`` -> ``(B, T, N, D)``."""
        if v.shape[1] != self.frames + self.tokens:
            raise ConfigError(
                f"integration layer built for T={self.frames}, N={self.tokens} (T+N={self.frames + self.tokens} rows) "
                f"got v_i with {v.shape[1]} rows; set the method's num_frames / feature grid to match the encoder"
            )
        return torch.einsum("ctn,bcd->btnd", self.spread, self.proj(v))


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` concatenated along dim 0 in rank order; the gradient flows back to the local slice.

    ``torch.distributed.nn.functional.all_gather``'s backward sums each rank's gradient into the rank that
    owns the rows, as bike's distributed InfoNCE (methods/bike/losses.py) and CLIP-style trainers do.
    """
    if world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


def gather_plain(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` (ids, masks) concatenated in rank order, without gradient."""
    if world_size() == 1:
        return x
    import torch.distributed as dist

    out = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


def info_nce(visual: torch.Tensor, text: torch.Tensor, temperature: float | torch.Tensor,
             text_ids: torch.Tensor | None = None, present: torch.Tensor | None = None,
             gather: bool = True) -> torch.Tensor:
    """Symmetric InfoNCE between L2-normalised visual and text embeddings of the (global) batch, CLIP-style.

    ``visual`` and ``text`` are ``(B, E)``; row ``j`` of each belongs to video ``j``. When two
    videos got the same answer (``text_ids`` equal, e.g. prompt A's category answers within a
    class), both pairs count as positives: the loss of a row is ``-log`` of the softmax mass on
    all its positives, so identical texts are never pushed apart as negatives. With distinct
    texts this is exactly the standard InfoNCE ``CE(sim / tau, arange(B))`` in both directions.

    ``present``: rows to use (videos without an answer are left out). In a distributed run
    (``gather``) every rank's rows are gathered first, so negatives come from the global batch and
    each rank computes the single-process loss of the concatenated batch; gradients reach only the
    local rows (the all-gather's backward), and DDP's mean over ranks gives the single-process gradient.
    """
    if gather and world_size() > 1:
        visual, text = gather_with_grad(visual), gather_plain(text)
        text_ids = gather_plain(text_ids) if text_ids is not None else None
        present = gather_plain(present) if present is not None else None
    if present is not None:
        visual, text = visual[present], text[present]
        text_ids = text_ids[present] if text_ids is not None else None
    v = F.normalize(visual, dim=-1)
    t = F.normalize(text, dim=-1)
    logits = v @ t.t() / temperature
    b = logits.shape[0]
    if text_ids is None:
        pos = torch.eye(b, dtype=torch.bool, device=logits.device)
    else:
        pos = text_ids.view(-1, 1) == text_ids.view(1, -1)

    def directed(lg: torch.Tensor) -> torch.Tensor:
        log_all = torch.logsumexp(lg, dim=1)
        log_pos = torch.logsumexp(lg.masked_fill(~pos, float("-inf")), dim=1)
        return (log_all - log_pos).mean()

    return 0.5 * (directed(logits) + directed(logits.t()))
