"""Schedule builders that the method configs call (imported after a config's ``_base_`` line, as
``methods.pipelines``): MMEngine's parameter schedulers in the form every recipe of this project uses."""

from __future__ import annotations


def warmup_cosine(max_epochs: int, warmup_epochs: int, start_factor: float, eta_min: float = 0) -> list[dict]:
    """Linear warm-up from ``start_factor`` x lr over ``warmup_epochs``, then cosine annealing to ``eta_min`` at
    ``max_epochs``; both stepped per iteration (``convert_to_iter_based``), as MMAction2's CLIP-based recipes."""
    return [
        dict(type="LinearLR", start_factor=start_factor, by_epoch=True, begin=0, end=warmup_epochs,
             convert_to_iter_based=True),
        dict(type="CosineAnnealingLR", T_max=max_epochs - warmup_epochs, eta_min=eta_min, by_epoch=True,
             begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    ]
