"""Token merging (ToMe, Bolya et al. 2022) as the alt paper uses it in every ViT block (Sec. 3.2, Eq. 2).

Written from the ToMe paper's description and checked against the official code
(facebookresearch/ToMe, ``tome/merge.py``: ``bipartite_soft_matching``, ``merge_wavg``):

* bipartite soft matching: the tokens ``[cls] + patches`` are split alternately into sets A
  (class token, odd patches) and B (even patches), and the class token is never merged; every
  token of A is paired with its most similar token of B (cosine similarity of the attention keys,
  averaged over heads); the ``r`` pairs with the highest similarity are
  merged, so each block removes exactly ``r`` tokens;
* size-weighted averaging: a merged token is the average of its members weighted by their sizes
  (how many input patches each already stands for), and sizes add up;
* proportional attention: ``log(size)`` of each key is added to the attention logits, so that a
  token standing for ``s`` patches gets the attention ``s`` separate copies would get.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bench.errors import ConfigError


def check_merge_schedule(num_patches: int, depth: int, r: int, where: str = "tome_r") -> list[int]:
    """Token counts (patches, without the class token) after each of ``depth`` blocks merging ``r``.

    Raises ConfigError when a block would have to merge more tokens than the bipartite split can
    pair (``r`` > half the patch tokens), i.e. when ``r`` would merge away all tokens.
    """
    if r < 0:
        raise ConfigError(f"{where}={r}: the number of tokens merged per block must be >= 0")
    counts, n = [], num_patches
    for block in range(depth):
        if r > n // 2:
            largest = max_r(num_patches, depth)
            raise ConfigError(
                f"{where}={r} is too large: block {block} has {n} patch tokens and can merge at most {n // 2} "
                f"pairs, so {depth} blocks would merge away all {num_patches} patch tokens; accepted: "
                f"0 <= r <= {largest} for {num_patches} patches and {depth} blocks")
        n -= r
        counts.append(n)
    return counts


def max_r(num_patches: int, depth: int) -> int:
    """The largest ``r`` every one of ``depth`` blocks can merge, starting from ``num_patches`` tokens."""
    return num_patches // (depth + 1)  # block i needs (i + 2) * r <= num_patches; the last block binds


def bipartite_merge(x: torch.Tensor, size: torch.Tensor, metric: torch.Tensor, r: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the ``r`` most similar A-B pairs; the class token (index 0) is never merged.

    The split is official ToMe's (``tome/merge.py``, ``bipartite_soft_matching`` with
    ``class_token=True``): tokens alternate over the whole sequence ``[cls] + patches``, so set A is
    the class token and the odd patches (sequence positions 0, 2, 4, ...) and set B the even patches
    (positions 1, 3, ...); the class token's scores are set to ``-inf`` so it never leaves A.

    Args:
        x: tokens ``(B, 1 + N, D)``, class token first.
        size: how many patches each token stands for, ``(B, 1 + N, 1)``.
        metric: the features similarity is measured on, ``(B, 1 + N, C)`` (the keys).
        r: pairs to merge; ``0 <= r <= N // 2``.

    Returns:
        ``(x, size)`` with ``1 + N - r`` tokens, ordered: unmerged A tokens in sequence order (class
        token first), then the B tokens. Merged tokens are size-weighted averages; sizes are sums.
    """
    n = x.shape[1] - 1
    if r <= 0:
        return x, size
    if r > n // 2:
        raise ConfigError(f"cannot merge r={r} pairs out of {n} patch tokens (at most {n // 2})")
    m = F.normalize(metric, dim=-1)
    scores = m[:, ::2] @ m[:, 1::2].transpose(1, 2)  # (B, |A|, |B|) cosine similarities
    scores[:, 0, :] = -math.inf  # the class token (A's first member) is protected
    best_score, best_b = scores.max(dim=-1)  # each A token's closest B token
    order = best_score.argsort(dim=-1, descending=True)
    merged_a, kept_a = order[:, :r], order[:, r:]
    kept_a = kept_a.sort(dim=-1).values  # sequence order of the survivors (the class token first)

    a_x, b_x = x[:, ::2], x[:, 1::2]
    a_s, b_s = size[:, ::2], size[:, 1::2]
    d = x.shape[-1]
    take = lambda t, idx: t.gather(1, idx.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
    src_x, src_s = take(a_x, merged_a), take(a_s, merged_a)
    dst = best_b.gather(1, merged_a)  # where each merged A token goes
    # Size-weighted average: sum(size * x) / sum(size) over each B token and the A tokens merged into it.
    # Accumulating index_put_ over the flattened batch (a scatter-add that FLOP counting treats as data movement).
    bsz, nb = b_x.shape[:2]
    flat = (dst + torch.arange(bsz, device=dst.device).unsqueeze(1) * nb).reshape(-1)
    num = (b_x * b_s).reshape(bsz * nb, d).index_put_((flat,), (src_x * src_s).reshape(-1, d), accumulate=True)
    den = b_s.reshape(bsz * nb, 1).clone().index_put_((flat,), src_s.reshape(-1, 1), accumulate=True)
    num, den = num.view(bsz, nb, d), den.view(bsz, nb, 1)
    new_b = num / den
    out_x = torch.cat([take(a_x, kept_a), new_b], dim=1)
    out_s = torch.cat([take(a_s, kept_a), den], dim=1)
    return out_x, out_s


def proportional_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, size: torch.Tensor | None
                           ) -> torch.Tensor:
    """Multi-head attention with ``log(size)`` of each key added to the logits (Eq. 2, ToMe).

    ``q, k, v``: ``(B, H, L, Dh)``; ``size``: ``(B, L, 1)`` or None (plain attention).
    With every size 1 the bias is 0 and this is exactly softmax(q k^T / sqrt(Dh)) v.
    """
    bias = None
    if size is not None:
        bias = size.log().transpose(1, 2).unsqueeze(1).to(q.dtype)  # (B, 1, 1, L): one bias per key
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Plain scaled dot-product attention written out (a test reference)."""
    w = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return w.softmax(dim=-1) @ v
