"""VLC (vision-language collaboration, ../shared/papers/vlc_vision_language_collaboration.txt).

Only Table 2 survived the PDF extraction as a table; Tables 1, 3, 4 and 5, and the box plot of
Figure 3, were lost. The ablation numbers that the text states (Sec. 4.3 for UCF-101 with
8 frames, Sec. A.1 for Kinetics-400 with 16 frames) are recorded with the text as source.
The method is unnamed in the paper ("Ours"); we call it VLC, and its ``Baseline`` rows
(the video pre-trained model fine-tuned with L_ce only) carry method VLC and a variant.
"""

from __future__ import annotations

from _common import Rows, parse_block

PAPER = "vlc"
TEACHER = "VLM teacher CLIP-L (CLIP-400M), training only"
BASELINE = "baseline: L_ce only"
OURS = "ours: L_ce+L_text+L_image"

# Table 2: Video pre-trained model | Dataset | Baseline top-1 | Ours top-1
# (a) varied backbones, (b) varied datasets; UMT is UMT-B (ViT-B), Sec. 4.
TABLE2 = """
2(a) | VideoMAE | ucf101 | 90.30 | 91.67
2(a) | AMD | ucf101 | 97.14 | 98.09
2(b) | UMT | k400 | 84.82 | 86.30
2(b) | UMT | ucf101 | 95.37 | 96.93
"""
UMT_FRAMES = {"k400": 16, "ucf101": 8}

# Losses ablation, UCF-101 with 8 frames (Sec. 4.3; Table 3 lost) and gate ablation (Sec. 4.3).
SEC43 = """
L_ce | 95.37
L_text | 95.82
L_ce+L_text | 96.56
L_ce+L_text+L_image | 96.93
"""
GATES = """
L_ce+L_text+L_image, gate=identity | 96.56
L_ce+L_text+L_image, gate=cross-attention | 96.80
L_ce+L_text+L_image, gate=self-attention | 96.93
"""
# Number of negative texts k (Sec. 4.3; Fig. 3 lost): the text selects k = 1200, where UCF-101 with all three
# losses is 96.93 (Table 3's value).
FIG3 = """
k=1200 | 96.93
"""
# Kinetics-400 with 16 frames (Sec. A.1; Table 5 lost)
SECA1 = """
L_ce | 84.82
L_ce+L_text | 85.97
L_ce+L_text+L_image | 86.30
"""


def build() -> Rows:
    """All VLC rows."""
    rows = Rows(PAPER)
    for sub, pretrained, dataset, base, ours in parse_block(TABLE2):
        umt = pretrained == "UMT"
        notes = [TEACHER, "Sec. 4.1 calls the 2(b) baseline 'trained solely with L_text'; Sec. 4.2 and A.1 say L_ce"
                 if sub == "2(b)" else "",
                 "frames inferred: values equal those of Sec. 4.3 (8 frames) / A.1 (16 frames)" if umt else ""]
        for variant, value in ((BASELINE, base), (OURS, ours)):
            rows.add(method="VLC", backbone="ViT-B" if umt else "", pretrain=pretrained,
                     frames=UMT_FRAMES[dataset] if umt else None, dataset=dataset, protocol="supervised",
                     metric="top1", value=value, source=f"vlc Table {sub}", variant=variant, notes=notes)
    common = {"method": "VLC", "backbone": "ViT-B", "pretrain": "UMT", "protocol": "supervised", "metric": "top1"}
    for variant, value in parse_block(SEC43):
        rows.add(**common, frames=8, dataset="ucf101", value=value, source="vlc text Sec. 4.3 (Table 3)",
                 variant=variant, notes=[TEACHER, "Table 3 lost in extraction; values from the text"])
    for variant, value in parse_block(GATES):
        rows.add(**common, frames=8, dataset="ucf101", value=value, source="vlc text Sec. 4.3 (gate ablation)",
                 variant=variant,
                 notes=[TEACHER, "no gate: image patch features used directly" if "identity" in variant else ""])
    for variant, value in parse_block(FIG3):
        rows.add(**common, frames=8, dataset="ucf101", value=value, source="vlc text Sec. 4.3 (Fig. 3)",
                 variant=variant, notes=[TEACHER, "Fig. 3 lost in extraction; the text selects k = 1200 for all "
                                         "experiments, where UCF-101 with all three losses gives 96.93 (Table 3)"])
    for variant, value in parse_block(SECA1):
        rows.add(**common, frames=16, dataset="k400", value=value, source="vlc text Sec. A.1 (Table 5)",
                 variant=variant, notes=[TEACHER, "Table 5 lost in extraction; values from the text"])
    return rows
