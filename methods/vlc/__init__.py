"""vlc, vision and language collaboration (../shared/papers/vlc_vision_language_collaboration.txt).

A video ViT adapted to a target dataset with cross-entropy (section 3.1), spatial knowledge distilled
from a frozen CLIP image encoder through a gate (section 3.2) and textual knowledge from a bank of
LLM descriptions through a contrastive loss with visual-guided assignment (section 3.3). Registers
the ``vlc`` method and its MMAction2 modules; see ``methods/vlc/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from bench.method import MethodInfo, register_method
from methods.vlc import backbone, head, recipe, recognizer  # noqa: F401  (registers the MMAction2 modules)

SIZES = {
    "tiny": "vlc_tiny.py",
    "umt_b16_8f": "vlc_umt-b16_8x224_ucf101.py",
    "umt_b16_16f": "vlc_umt-b16_16x224_k400.py",
    "umt_b16_32f": "vlc_umt-b16_32x224_k400.py",
    "videomae_b16_16f": "vlc_videomae-b16_16x224_ucf101.py",
    "amd_b16_16f": "vlc_amd-b16_16x224_ucf101.py",
}

register_method(
    MethodInfo(
        name="vlc",
        config_dir=Path(__file__).parent / "configs",
        sizes=SIZES,
        # No AVA: the paper evaluates no detection task, and its head needs class descriptions that
        # AVA's atomic actions do not have in the description bank.
        protocols=("supervised", "fewshot", "zeroshot", "linear_probe"),
        family="vlc",
        # Phi_m is the text branch: used by L_text and zero-shot scoring, not by supervised inference.
        text_modules=("cls_head.text_proj",),
        # Training-only: the frozen CLIP teacher; the gate and the distillation projection (distill).
        teacher_modules=("teacher", "distill"),
        paper="../shared/papers/vlc_vision_language_collaboration.txt",
    )
)
