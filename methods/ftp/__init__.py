"""FTP, four-tiered prompts (../shared/papers/ftp_four_tiered_prompts.txt): VLM-aided training of video transformers.

Registers the ``ftp`` method, its MMAction2 modules (recognizer, head, frozen encoders) and
its MMEngine hook and optimizer constructor. See ``methods/ftp/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from bench.method import MethodInfo, register_method
from methods.ftp import batch, encoders, head, hooks, recognizer, stage1  # noqa: F401  (registers modules, producer)

SIZES = {
    "tiny": "ftp_tiny.py",
    "uniformerv2_b16_8x224": "ftp_uniformerv2-b16_8x224.py",
    "uniformerv2_l14_32x224": "ftp_uniformerv2-l14_32x224.py",
    "uniformerv2_l14_64x336": "ftp_uniformerv2-l14_64x336.py",
    "vit_b16_32x224": "ftp_vit-b16_32x224.py",
    "deit3_b16_32x224": "ftp_deit3-b16_32x224.py",
    "videomae_l16_32x224": "ftp_videomae-l16_32x224.py",
    "clip_l14_32x224": "ftp_clip-l14_32x224.py",
}

register_method(
    MethodInfo(
        name="ftp",
        config_dir=Path(__file__).parent / "configs",
        sizes=SIZES,
        # zero-shot is not supported: FTP classifies with a linear layer, it has no class-name text scorer.
        protocols=("supervised", "fewshot", "linear_probe", "ava"),
        family="FTP",
        text_modules=("aligners",),
        paper="../shared/papers/ftp_four_tiered_prompts.txt",
        configure=batch.apply,
        dry_run_notes=batch.dry_run_lines,
    )
)
