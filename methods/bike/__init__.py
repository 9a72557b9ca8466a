"""bike: Bidirectional Cross-Modal Knowledge Exploration (../shared/papers/bike_bidirectional_knowledge.txt).

Video branch with Video Concept Spotting, Attributes branch with pre-generated attributes,
fused by Eq. (4). See ``methods/bike/README.md`` for the choices made where the paper is silent.
"""

from __future__ import annotations

from pathlib import Path

from bench.method import MethodInfo, register_method
from methods.bike.head import BIKEHead  # noqa: F401
from methods.bike.model import BIKE, BIKEVideoEncoder  # noqa: F401
from methods.bike.transforms import RandomGrayscaleClip  # noqa: F401

SIZES = {"tiny": "bike_tiny.py"}
for _arch, _tag in (("vit-b32", "b32"), ("vit-b16", "b16"), ("vit-l14", "l14")):
    for _t in (8, 16, 32):
        SIZES[f"{_tag}_{_t}f"] = f"bike_{_arch}_{_t}x224_k400.py"
for _t in (8, 16, 32):
    SIZES[f"l14_336_{_t}f"] = f"bike_vit-l14-336_{_t}x336_k400.py"
SIZES["b16_8f_release"] = "bike_vit-b16_8x224_k400_release.py"  # BIKE's released K400 model, evaluated as is

register_method(
    MethodInfo(
        name="bike",
        config_dir=Path(__file__).parent / "configs",
        sizes=SIZES,
        protocols=("supervised", "fewshot", "zeroshot", "linear_probe", "charades"),
        family="bike",
        text_modules=("cls_head.category_encoder", "cls_head.attr_encoder"),
        teacher_modules=("cls_head.attr_teacher",),
        paper="../shared/papers/bike_bidirectional_knowledge.txt",
    )
)
