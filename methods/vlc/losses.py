"""The losses of vlc: visual-guided text assignment + Eq. (12), and the gated feature distillation.

- ``assign_texts``: section 3.3.2. Candidates are every description of the bank plus every
  class-name text. A clip's frame embeddings (CLIP ``cls``, Eq. 10) score every candidate by
  cosine similarity averaged over frames. Positives: the ``p`` highest-scoring candidates among the
  ground-truth class's descriptions and its name. Negatives: the ``k`` lowest-scoring descriptions
  of the other classes (never a ground-truth description, never a class name).
- ``text_contrastive_loss``: Eq. (12) with temperature tau over L2-normalised features.
- ``SelfAttentionGate``: Eq. (5), attention over the teacher's patch tokens and an LN-MLP with a
  residual connection, trainable.
- ``keyword_masks``: Eqs. (6)-(8), foreground masks from keyword maps with thresholds ``thr1``
  (map) and ``thr2`` (image-guided keyword filter), max-pooled over keywords.
- ``distill_loss``: the L1 distance of section 3.2, optionally restricted to a mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GATES = ("identity", "self_attention", "cross_attention")
MASK_NORMS = ("all", "foreground")


def candidate_scores(frame_cls: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each clip with each candidate, averaged over frames: ``(B, T, E) x (N, E) -> (B, N)``."""
    return torch.einsum("bte,ne->btn", frame_cls, candidates).mean(dim=1)


def assign_texts(scores: torch.Tensor, labels: torch.Tensor, owner: torch.Tensor, num_classes: int,
                 num_positives: int, num_negatives: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of positive and negative candidates per clip (section 3.3.2).

    Args:
        scores: ``(B, N + C)`` similarity of each clip with the N descriptions then the C class names.
        labels: ``(B,)`` ground-truth class of each clip.
        owner: ``(N,)`` class of each description.
        num_classes: C.
        num_positives / num_negatives: p and k.

    Returns:
        ``pos (B, p)`` and ``neg (B, k)`` indices into the candidates.
    """
    n = owner.numel()
    cand_class = torch.cat([owner, torch.arange(num_classes, device=owner.device)])
    is_name = torch.arange(n + num_classes, device=owner.device) >= n
    gt = cand_class[None, :] == labels[:, None]  # (B, N + C): GT descriptions and the GT name
    neg_ok = ~gt & ~is_name[None, :]
    inf = torch.finfo(scores.dtype).max
    pos = scores.masked_fill(~gt, -inf).topk(num_positives, dim=1).indices
    neg = (-scores).masked_fill(~neg_ok, -inf).topk(num_negatives, dim=1).indices
    return pos, neg


def text_contrastive_loss(z: torch.Tensor, candidates: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
                          tau: float) -> torch.Tensor:
    """Eq. (12): ``-log( sum_pos exp(z.T/tau) / sum_{pos+neg} exp(z.T/tau) )``, averaged over the batch.

    ``z`` (B, E) and ``candidates`` (N + C, E) are L2-normalised by the caller.
    """
    lp = torch.einsum("be,bpe->bp", z, candidates[pos]) / tau
    ln = torch.einsum("be,bke->bk", z, candidates[neg]) / tau
    return (torch.logsumexp(torch.cat([lp, ln], dim=1), dim=1) - torch.logsumexp(lp, dim=1)).mean()


class SelfAttentionGate(nn.Module):
    """Eq. (5): ``G = softmax(Q K^T / sqrt(d)) V``, ``Z^g = MLP(LN(G)) + G`` over the teacher's patch tokens.

    ``num_heads=1`` is Eq. (5) as written; more heads split the width as in the Transformer.
    """

    def __init__(self, dim: int, num_heads: int = 1, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"self-attention gate: width {dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.norm = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, K', D')`` -> gated tokens of the same shape."""
        n, k, d = z.shape
        q, kk, v = self.qkv(z).view(n, k, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        g = F.scaled_dot_product_attention(q, kk, v)  # softmax(QK^T / sqrt(d_head)) V
        g = g.transpose(1, 2).reshape(n, k, d)
        return self.mlp(self.norm(g)) + g


def keyword_masks(seg: torch.Tensor, frame_cls: torch.Tensor, keywords: torch.Tensor, valid: torch.Tensor,
                  thr1: float, thr2: float) -> torch.Tensor:
    """Foreground masks of Eqs. (6)-(8), max-pooled over keywords.

    Args:
        seg: ``(N, K', E)`` L2-normalised segmentation patch embeddings of N frames.
        frame_cls: ``(N, E)`` L2-normalised frame embeddings.
        keywords: ``(N, W, E)`` L2-normalised embeddings of each frame's keywords (its clip's class).
        valid: ``(N, W)`` which keyword slots are real (classes have different keyword counts).
        thr1: threshold on the keyword map ``A_{t,w}`` (cosine map min-max scaled to [0, 1] per frame and keyword).
        thr2: threshold on ``R_{t,w}``, the cosine of the frame embedding with the keyword (image-guided filter).

    Returns:
        ``(N, K')`` float mask, 1 on the foreground.
    """
    sim = torch.einsum("nke,nwe->nkw", seg, keywords)
    lo, hi = sim.amin(dim=1, keepdim=True), sim.amax(dim=1, keepdim=True)
    a = (sim - lo) / (hi - lo).clamp_min(1e-6)  # A_{t,w}, Eq. (6)
    r = torch.einsum("ne,nwe->nw", frame_cls, keywords)  # R_{t,w}, Eq. (7)
    keep = (r > thr2) & valid
    a_tilde = (a >= thr1) & keep[:, None, :]  # Eq. (8)
    return a_tilde.any(dim=-1).to(seg.dtype)  # max-pooling over w


def distill_loss(target: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor | None = None,
                 norm: str = "all") -> torch.Tensor:
    """L1 distance of section 3.2 between ``(N, K', D')`` token sets; with ``mask (N, K')`` only masked tokens count.

    ``norm='all'`` averages over every element (the plain L1 loss of the masked difference);
    ``'foreground'`` averages over the masked tokens only.
    """
    diff = (target - pred).abs()
    if mask is None:
        return diff.mean()
    diff = diff * mask[..., None]
    if norm == "foreground":
        return diff.sum() / (mask.sum() * target.shape[-1]).clamp_min(1.0)
    return diff.mean()
