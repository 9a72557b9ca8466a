"""CLIP text towers of bike: the frozen category encoder and the trainable attribute encoder.

A tower returns, for a batch of prompted sentences, the sentence ([CLS], i.e. end-of-text
token) embedding and the per-token embeddings (after the final LayerNorm and the text
projection, so both live in the joint space), plus a mask of the tokens that belong to the
category name inside the prompt. VCS uses the name's tokens as its "words" (CLIP's BPE tokens:
a long word can be several tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.errors import ConfigError
from methods.baselines.clip_meanpool import clip_parts


def check_template(template: str, where: str) -> None:
    if not isinstance(template, str) or template.count("{}") != 1:
        raise ConfigError(f"{where}={template!r}: a prompt template needs exactly one '{{}}'")


class CLIPTextTower(nn.Module):
    """The text side of an open_clip CLIP, returning sentence and token embeddings.

    Args:
        clip_arch / clip_weights: the CLIP to copy the text transformer from (``create_clip``).
        frozen: freeze every parameter (the category encoder, Table 6a "frozen label encoder").
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, frozen: bool = False) -> None:
        super().__init__()
        import open_clip

        _, self.clip = clip_parts(clip_arch, clip_weights)
        self.tokenizer = open_clip.get_tokenizer(clip_arch)
        self.frozen = frozen
        if frozen:
            self.requires_grad_(False)
        for name in ("logit_scale", "logit_bias"):  # unused here: no gradient, so DDP finds no unused parameter
            p = getattr(self.clip, name, None)
            if isinstance(p, nn.Parameter):
                p.requires_grad_(False)

    @property
    def embed_dim(self) -> int:
        proj = self.clip.text_projection
        return proj.out_features if isinstance(proj, nn.Linear) else proj.shape[-1]

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def _content_tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` without start/end-of-text and padding."""
        row = self.tokenize([text])[0].tolist()
        eot = max(row)  # CLIP's end-of-text id is the largest id in a sequence
        return row[1: row.index(eot)]

    def name_mask(self, names: Sequence[str], template: str, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, L)`` bool: the positions of each name's own tokens in its prompted sentence.

        Raises ConfigError for a name that tokenises to nothing (VCS would have no word to spot with).
        """
        prefix = template.split("{}")[0]
        start = 1 + len(self._content_tokens(prefix.strip())) if prefix.strip() else 1
        mask = torch.zeros(tokens.shape, dtype=torch.bool)
        for i, name in enumerate(names):
            own = self._content_tokens(str(name))
            if not own:
                raise ConfigError(f"category name {name!r} tokenises to no word token; give a non-empty class "
                                  f"name (VCS spots frames with the name's words)")
            row = tokens[i].tolist()
            eot_pos = row.index(max(row))
            if row[start: start + len(own)] == own:
                mask[i, start: min(start + len(own), eot_pos)] = True
            else:  # the prompt merged tokens with the name (or truncated it): use every content token
                mask[i, 1:eot_pos] = True
            if not mask[i].any():
                raise ConfigError(f"category name {name!r} has no token left in the prompt {template!r} "
                                  f"(truncated by the context length?)")
        return mask

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, L)`` token ids -> sentence embeddings ``(N, D)`` and token embeddings ``(N, L, D)``."""
        m = self.clip
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding.to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask))
        proj = m.text_projection
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
        pooled = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return pooled, x

    def encode(self, texts: Sequence[str], template: str = "{}") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prompted ``texts`` -> (sentence ``(N, D)``, tokens ``(N, L, D)``, name mask ``(N, L)``)."""
        check_template(template, "template")
        device = next(self.parameters()).device
        tokens = self.tokenize([template.format(t) for t in texts])
        mask = self.name_mask(texts, template, tokens)
        pooled, toks = self(tokens.to(device))
        return pooled, toks, mask.to(device)
