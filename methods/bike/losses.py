"""Objectives of bike (Sec. 2.4, Eqs. (7)-(9)) and the Distributed InfoNCE of appendix A.6.

Both branches are trained with a symmetric contrastive loss between the videos (or attribute
sentences) of a batch and the categories of that batch. Several videos of a batch can share a
category. Two readings:

- ``'nce_kl'`` (default, the public code's ``utils/NCELoss.py`` ``NCELoss``): the KL divergence
  ``KL(q || softmax(logits))`` per row with the target ``q = softmax(10 * gt)`` of the 0/1
  label-equality matrix ``gt``, ``nn.KLDivLoss(reduction='mean')`` times the batch size (= the sum
  over a row, averaged over rows); rows and columns averaged. ``q`` keeps some mass on the other
  columns (label smoothing of about 1 % at a global batch of 256); the KL differs from the cross-
  entropy with ``q`` by the constant entropy of ``q``.
- ``'soft_ce'`` (the paper's Eqs. 7/8 read as InfoNCE): cross-entropy with the target uniform over the
  columns of the same label (the label-equality matrix, row-normalised).

Distributed: every rank gathers the features and labels of all ranks *with gradients*
(``torch.distributed.nn.functional.all_gather``), so the similarity matrix is the global
``NM x NM`` one and every rank computes the same loss as a single process on the global batch.
The gather's backward sums the gradients of all ranks into each rank's own rows, and DDP
averages parameter gradients over the ranks; together this is the single-process gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from bench.errors import ConfigError


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All ranks' ``x`` concatenated along dim 0 (rank order), differentiable; ``x`` itself on one process."""
    if world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


def gather_labels(labels: torch.Tensor) -> torch.Tensor:
    """All ranks' labels (no gradient), in the order ``gather_with_grad`` uses."""
    if world_size() == 1:
        return labels
    import torch.distributed as dist

    out = [torch.empty_like(labels) for _ in range(world_size())]
    dist.all_gather(out, labels.contiguous())
    return torch.cat(out, dim=0)


def label_targets(labels: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Row-normalised label-equality matrix: the positives of row i are the batch items of i's category."""
    same = (labels[:, None] == labels[None, :]).to(dtype)
    return same / same.sum(dim=1, keepdim=True)


LOSSES = ("nce_kl", "soft_ce")
NCE_TARGET_SCALE = 10.0  # NCELoss: softmax(label * 10)


def nce_targets(labels: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The public code's targets: ``softmax(10 * gt, dim=1)`` of the 0/1 label-equality matrix."""
    same = (labels[:, None] == labels[None, :]).to(dtype)
    return torch.softmax(NCE_TARGET_SCALE * same, dim=1)


def _nce_kl(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``nn.KLDivLoss(reduction='mean')(log_softmax(logits), targets) * N``: mean over rows of the row KL."""
    n = logits.shape[0]  # reduction='mean' divides by n * n: times n = the sum / n
    return F.kl_div(F.log_softmax(logits, dim=1), targets, reduction="sum") / n


def symmetric_infonce(logits: torch.Tensor, labels: torch.Tensor, kind: str = "soft_ce") -> torch.Tensor:
    """Eq. (7)/(8): mean of the row (video -> category) and column (category -> video) losses.

    ``logits[i, j]``: scaled similarity of item i with the category of item j (``(N, N)``).
    ``kind``: ``'nce_kl'`` (public code) or ``'soft_ce'`` (see the module docstring).
    """
    if kind == "nce_kl":
        targets = nce_targets(labels, logits.dtype)
        return (_nce_kl(logits, targets) + _nce_kl(logits.t(), targets)) / 2
    if kind != "soft_ce":
        raise ConfigError(f"bike loss {kind!r}; accepted: {', '.join(LOSSES)}")
    targets = label_targets(labels, logits.dtype)
    rows = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    cols = -(targets * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return (rows + cols) / 2


def distributed_infonce(features: tuple[torch.Tensor, ...], labels: torch.Tensor,
                        pair_logits: Callable[..., torch.Tensor], kind: str = "soft_ce") -> torch.Tensor:
    """Appendix A.6: gather ``features`` (each ``(N, ...)``) and labels from all ranks, then the global loss.

    Args:
        features: per-rank tensors whose gathered versions ``pair_logits`` turns into the
            global ``(NM, NM)`` logit matrix (e.g. frame embeddings and the batch's category
            embeddings).
        kind: ``'nce_kl'`` or ``'soft_ce'`` (``symmetric_infonce``).
        labels: ``(N,)`` category ids of this rank's items.
        pair_logits: ``f(*gathered, all_labels) -> (NM, NM)`` scaled similarities; entry ``[i, j]``
            pairs item i with the category of item j.
    """
    gathered = tuple(gather_with_grad(f) for f in features)
    all_labels = gather_labels(labels)
    return symmetric_infonce(pair_logits(*gathered, all_labels), all_labels, kind)
