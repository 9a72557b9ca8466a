"""Fine-grained visual-semantic alignment (alt paper, Sec. 3.2, Eqs. 4-6).

Every visual token of a frame is compared with every text entity (cosine similarity), a
Gumbel-softmax over the entities gives the soft assignment A (Eq. 4), which is made hard
(one-hot of the argmax) with a straight-through gradient (Eq. 5). The aligned semantic
embedding of the frame is Q = MLP(Â S) (Eq. 6), reduced from one row per token to one per frame.

Where the paper leaves room (see ``methods/alt/README.md``):

* ``logit_scale``: the cosine similarities are multiplied by it before Eq. (4). Appendix B's
  tau = 1 on raw cosines (range [-1, 1], spread ~0.05 between entities) next to Gumbel(0, 1) noise
  (std 1.28) makes the training assignment close to random; scaled by CLIP's learned logit scale
  (100 for OpenAI CLIP), the similarities are logits as CLIP trained them, and the noise perturbs
  only near ties. ``1.0`` is the literal reading of Eq. (4).
* ``assignment``: ``"hard"`` uses the straight-through one-hot Â of Eq. (5) in Q = MLP(Â S), as
  the text writes; ``"soft"`` uses the Gumbel-softmax A itself, as Eq. (6) and Fig. 3b
  ("softmax-weight-sum") draw it.
* ``pool``: the token rows are reduced to one per frame by an average weighted by ToMe's token
  sizes (``"size"``, how ToMe pools its merged tokens) or a plain average (``"mean"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError


def straight_through(soft: torch.Tensor) -> torch.Tensor:
    """Eq. (5): ``one-hot(argmax A) + A - sg(A)``: one-hot forward, the soft gradient backward.

    The one-hot is written as ``A == max(A)`` (renormalised for the measure-zero case of ties), so that
    it stays an elementwise op for FLOP counting.
    """
    hard = (soft == soft.amax(dim=-1, keepdim=True)).to(soft.dtype)
    hard = hard / hard.sum(dim=-1, keepdim=True)
    return hard + soft - soft.detach()


def gumbel_assignment(sim: torch.Tensor, tau: float, noise: bool, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
    """Eq. (4): ``softmax(w / tau + gamma)`` over the last axis, gamma ~ Gumbel(0, 1) when ``noise``."""
    logits = sim / tau
    if noise:
        u = torch.rand(sim.shape, generator=generator, device=sim.device, dtype=sim.dtype)
        logits = logits - torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
    return logits.softmax(dim=-1)


def make_mlp(in_dim: int, out_dim: int, layers: int) -> nn.Sequential:
    """LayerNorm then ``layers`` linear layers (GELU between): the 'MLP' of Eqs. (6) and (9)."""
    if layers < 1:
        raise ConfigError(f"mlp_layers={layers}: an MLP needs at least one layer")
    mods: list[nn.Module] = [nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim)]
    for _ in range(layers - 1):
        mods += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*mods)


ASSIGNMENTS = ("hard", "soft")
POOLS = ("size", "mean")


def pool_tokens(rows: torch.Tensor, sizes: torch.Tensor | None, pool: str = "size") -> torch.Tensor:
    """``(N, L, d)`` -> ``(N, d)``: ``sum_l s_l x_l / sum_l s_l`` (``pool="size"``, sizes ``(N, L, 1)``) or the mean."""
    if pool == "mean" or sizes is None:
        return rows.mean(dim=1)
    w = sizes.to(rows.dtype)
    return (rows * w).sum(dim=1) / w.sum(dim=1)


class SemanticAligner(nn.Module):
    """Aligns visual tokens with the entity embeddings S and returns one query per frame.

    Args:
        entities: ``(K, d)`` L2-normalised entity embeddings (frozen; a buffer saved with the model).
        out_dim: width of the video decoder the queries feed.
        tau: Gumbel-softmax temperature (appendix B: 1).
        mlp_layers: layers of the MLP of Eq. (6).
        gumbel_at_test: add Gumbel noise in eval mode too (default off: evaluation is deterministic).
        logit_scale: factor of the cosine similarities before Eq. (4) (CLIP's learned scale; 1 = literal).
        assignment: ``"hard"`` (Â of Eq. 5 in Eq. 6) or ``"soft"`` (the Gumbel-softmax A in Eq. 6).
        pool: ``"size"`` (average weighted by ToMe token sizes) or ``"mean"`` over a frame's tokens.
    """

    def __init__(self, entities: torch.Tensor, out_dim: int, tau: float = 1.0, mlp_layers: int = 1,
                 gumbel_at_test: bool = False, logit_scale: float = 1.0, assignment: str = "hard",
                 pool: str = "size") -> None:
        super().__init__()
        if entities.ndim != 2 or entities.shape[0] == 0:
            raise ConfigError(f"SemanticAligner needs a (K, d) entity matrix with K >= 1, got {tuple(entities.shape)}")
        if tau <= 0:
            raise ConfigError(f"tau={tau}: the Gumbel-softmax temperature must be > 0")
        if not logit_scale > 0:
            raise ConfigError(f"logit_scale={logit_scale}: the similarity scale must be > 0")
        if assignment not in ASSIGNMENTS:
            raise ConfigError(f"assignment={assignment!r}; accepted: {ASSIGNMENTS}")
        if pool not in POOLS:
            raise ConfigError(f"query_pool={pool!r}; accepted: {POOLS}")
        self.register_buffer("entities", entities.float().clone())
        self.tau, self.gumbel_at_test = float(tau), gumbel_at_test
        self.logit_scale, self.assignment_mode, self.pool = float(logit_scale), assignment, pool
        self.mlp = make_mlp(entities.shape[1], out_dim, mlp_layers)

    def soft_assignment(self, tokens: torch.Tensor) -> torch.Tensor:
        """A of Eq. (4) for tokens ``(N, L, d)``: ``(N, L, K)`` (Gumbel noise in training only)."""
        sim = F.normalize(tokens, dim=-1) @ self.entities.t()  # cosine similarities w_ij of Eq. (4)
        return gumbel_assignment(sim * self.logit_scale, self.tau, noise=self.training or self.gumbel_at_test)

    def assignment(self, tokens: torch.Tensor) -> torch.Tensor:
        """Â of Eq. (5) for tokens ``(N, L, d)``: ``(N, L, K)``."""
        return straight_through(self.soft_assignment(tokens))

    def forward(self, tokens: torch.Tensor, sizes: torch.Tensor | None = None) -> torch.Tensor:
        """Queries ``(N, out_dim)`` of frames whose tokens are ``(N, L, d)`` (ToMe sizes ``(N, L, 1)``)."""
        a = self.assignment(tokens) if self.assignment_mode == "hard" else self.soft_assignment(tokens)
        aligned = a @ self.entities  # Â S (or A S): one entity embedding per token
        return self.mlp(pool_tokens(aligned, sizes, self.pool))  # Eq. (6), tokens reduced before the MLP
