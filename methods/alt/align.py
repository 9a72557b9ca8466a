"""Fine-grained visual-semantic alignment (alt paper, Sec. 3.2, Eqs. 4-6).

Every visual token of a frame is compared with every text entity (cosine similarity), a
Gumbel-softmax over the entities gives the soft assignment A (Eq. 4), which is made hard
(one-hot of the argmax) with a straight-through gradient (Eq. 5). The aligned semantic
embedding of the frame is Q = MLP(Â S) (Eq. 6), reduced from one row per token to one per frame.
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


class SemanticAligner(nn.Module):
    """Aligns visual tokens with the entity embeddings S and returns one query per frame.

    Args:
        entities: ``(K, d)`` L2-normalised entity embeddings (frozen; a buffer saved with the model).
        out_dim: width of the video decoder the queries feed.
        tau: Gumbel-softmax temperature (appendix B: 1).
        mlp_layers: layers of the MLP of Eq. (6).
        gumbel_at_test: add Gumbel noise in eval mode too (default off: evaluation is deterministic).
    """

    def __init__(self, entities: torch.Tensor, out_dim: int, tau: float = 1.0, mlp_layers: int = 1,
                 gumbel_at_test: bool = False) -> None:
        super().__init__()
        if entities.ndim != 2 or entities.shape[0] == 0:
            raise ConfigError(f"SemanticAligner needs a (K, d) entity matrix with K >= 1, got {tuple(entities.shape)}")
        if tau <= 0:
            raise ConfigError(f"tau={tau}: the Gumbel-softmax temperature must be > 0")
        self.register_buffer("entities", entities.float().clone())
        self.tau, self.gumbel_at_test = float(tau), gumbel_at_test
        self.mlp = make_mlp(entities.shape[1], out_dim, mlp_layers)

    def assignment(self, tokens: torch.Tensor) -> torch.Tensor:
        """Â of Eq. (5) for tokens ``(N, L, d)``: ``(N, L, K)``."""
        sim = F.normalize(tokens, dim=-1) @ self.entities.t()  # cosine similarities w_ij of Eq. (4)
        soft = gumbel_assignment(sim, self.tau, noise=self.training or self.gumbel_at_test)
        return straight_through(soft)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Queries ``(N, out_dim)`` of frames whose tokens are ``(N, L, d)``."""
        aligned = self.assignment(tokens) @ self.entities  # Â S: one entity embedding per token
        return self.mlp(aligned.mean(dim=1))  # Eq. (6), tokens reduced by averaging before the MLP
