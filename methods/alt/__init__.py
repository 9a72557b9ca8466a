"""ALT, "align before adapt" (../shared/papers/alt_align_before_adapt.txt): CLIP ViT with token merging,
frame tokens aligned with an action-entity text corpus, aligned entities as queries of a video decoder.

Registers the ``alt`` method and its MMAction2 modules. See ``methods/alt/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from bench.method import MethodInfo, register_method
from methods.alt import recognizer  # noqa: F401  (registers ALTBackbone, ALTRecognizer)

SIZES = {
    "tiny": "alt_tiny.py",
    "b16_8f": "alt_vit-b16_8x224.py",
    "b16_16f": "alt_vit-b16_16x224.py",
    "b16_32f": "alt_vit-b16_32x224.py",
    "l14_8f": "alt_vit-l14_8x224.py",
    "l14_16f": "alt_vit-l14_16x224.py",
    "l14_32f": "alt_vit-l14_32x224.py",
}

register_method(
    MethodInfo(
        name="alt",
        config_dir=Path(__file__).parent / "configs",
        sizes=SIZES,
        protocols=("supervised", "fewshot", "zeroshot", "linear_probe"),
        family="ALT",
        text_modules=("cls_head.text",),
        paper="../shared/papers/alt_align_before_adapt.txt",
    )
)
