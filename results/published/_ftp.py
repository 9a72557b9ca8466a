"""FTP (Four-tiered prompts, ../shared/papers/ftp_four_tiered_prompts.txt): Tables 1-7, B4 and C5.

FTP prints FLOPs as TFLOPs summed over all views ("crops", temporal x spatial); per-view GFLOPs
are computed from them. Tables 5-7 and C5 use FTP-UniFormerV2-L/14 with 32x224^2 inputs
(Sec. 4.3, App. C).
"""

from __future__ import annotations

from _common import Rows, flops, input_shape, parse_block, split_name

PAPER = "ftp"
FTP_PRETRAIN = "CLIP-400M+K710-0.66M"
FOOTNOTES = {"¹": "pretrain footnote 1: K710+SSV2+WebVid2M+AVA V2.2 and videos crawled from Instagram",
             "²": "pretrain footnote 2: WebVid2M/10M+HowTo100M+K710+SSV2+AVA V2.2 and self-collected videos"}

# Table 1 (K400): Method | Pretrain data | Input | Crops | Params | FLOPs | Top-1 | Top-5
TABLE1 = """
TimeSformer-L | IN-21K | 96x224^2 | 10x3 | 121M | 7.1T | 80.7 | 94.7
Mformer-HR | IN-21K | 16x336^2 | 10x3 | 109M | 28.8T | 81.1 | 95.2
UniFormerV1-B | IN-1K | 32x224^2 | 4x3 | 50M | 3.1T | 83.0 | 95.4
Video Swin-L | IN-21K | 32x384^2 | 10x5 | 200M | 105.4T | 84.9 | 96.7
ViViT-H | JFT-300M | 32x224^2 | 4x3 | 654M | 47.8T | 84.9 | 95.8
TokenLearner-L/10 | JFT-300M | 64x224^2 | 4x3 | 450M | 48.9T | 85.4 | 96.3
MViTv2-L | IN-21K | 40x312^2 | 5x3 | 218M | 42.2T | 86.1 | 97.0
VideoMAE-H | IN-21K | 16x224^2 | 5x3 | 633M | 17.9T | 86.6 | 97.1
MAE-H | IN1K+K400+K600-1.9M | 16x224^2 | 4x3 | 632M | 25.1T | 86.8 | 97.2
MaskFeat-L | IN-21K | 64x224^2 | 4x3 | 218M | 45.5T | 87.0 | 97.4
EVL-L/14 | CLIP-400M | 32x336^2 | 3x3 | 67M | 19.1T | 87.7 | _
X-CLIP-L/14 | CLIP-400M | 16x336^2 | 4x3 | 453M | 37.0T | 87.7 | _
MTV-H | IN-21K+WTS-60M | 32x224^2 | 4x3 | 1120M | 44.5T | 89.1 | 98.2
MTV-H | IN-21K+WTS-60M | 32x280^2 | 4x3 | 1330M | 73.6T | 89.9 | 98.3
VideoMAE V2-g | Hybrid-1.35M ¹ | 64x266^2 | 2x3 | 1050M | 160.3T | 90.0 | 98.4
TubeVit-H | IN-1K | 32x224^2 | 4x3 | 635M | 17.6T | 90.9 | 98.9
InternVideo | CLIP-400M+Hybrid-12M ² | 64x224^2 | 16x4 | 1300M | 86.2T | 91.1 | 98.9
UniFormerV2-B/16 | CLIP-400M+K710-0.66M | 8x224^2 | 4x3 | 115M | 1.8T | 85.6 | 97.0
UniFormerV2-L/14 | CLIP-400M+K710-0.66M | 32x224^2 | 2x3 | 354M | 16.0T | 89.3 | 98.2
UniFormerV2-L/14 | CLIP-400M + K710-0.66M | 64x336^2 | 2x3 | 354M | 75.3T | 90.0 | 98.4
FTP-UniFormerV2-B/16 (ours) | CLIP-400M+K710-0.66M | 8x224^2 | 4x3 | 136M | 2.2T | 91.9 | 98.9
FTP-UniFormerV2-L/14 (ours) | CLIP-400M+K710-0.66M | 32x224^2 | 2x3 | 402M | 18.4T | 93.4 | 99.3
FTP-UniFormerV2-L/14 (ours) | CLIP-400M + K710-0.66M | 64x336^2 | 2x3 | 402M | 78.7T | 94.3 | 99.4
"""

# Table 2 (SSV2): Method | Input | Crops | Params (M) | TFLOPs | Top-1 | Top-5
TABLE2 = """
TimeSformer-HR | (16x448^2) | 16x3 | 121 | 5.1 | 62.4 | 86.3
SlowFast R101 | (64x224^2) | 8x8 | 53 | 0.3 | 63.1 | 87.6
ViViT-L FE | (32x224^2) | 1x3 | 612 | 47.6 | 65.4 | 89.8
EVL-L/14 | (32x336^2) | 3x3 | 67 | 9.6 | 66.7 | _
Mformer-L | (32x224^2) | 1x3 | 109 | 3.6 | 68.1 | 91.2
VIMPAC | (10x256^2) | 10x3 | 307 | _ | 68.1 | _
TDN R101 | (24x224^2) | 10x3 | 88 | 0.6 | 68.2 | 91.6
MTV-B | (32x320^2) | 4x3 | 310 | 11.2 | 68.5 | 90.4
Video Swin-B | (32x224^2) | 1x3 | 89 | 1.0 | 69.6 | 92.7
UniFormerV1-B | (32x224^2) | 1x3 | 50 | 0.8 | 71.2 | 92.8
BEVT | (32x224^2) | _ | 88 | 1.0 | 71.4 | _
MViTv2-B | (32x224^2) | 1x3 | 51 | 0.7 | 72.1 | 93.4
MaskFeat-L | (64x312^2) | 4x3 | 218 | 8.5 | 75.0 | 95.0
VideoMAE-L | (32x224^2) | 1x3 | 305 | 4.3 | 75.4 | 95.2
TubeViT-L | (32x224^2) | 4x3 | 311 | 9.5 | 76.1 | 95.2
VideoMAE V2-g | (64x266^2) | 5x3 | 1050 | 160.3 | 77.0 | 95.9
InternVideo | (64x224^2) | 16x4 | 1300 | 86.2 | 77.2 | 95.9
UniFormerV2-B/16 | (16x224^2) | 1x3 | 163 | 0.6 | 69.5 | 92.3
UniFormerV2-L/14 | (32x224^2) | 1x3 | 574 | 5.2 | 73.0 | 94.5
FTP-UniFormerV2-B/16 (ours) | (16x224^2) | 1x3 | 183 | 1.1 | 77.3 | 96.7
FTP-UniFormerV2-L/14 (ours) | (32x224^2) | 1x3 | 620 | 6.6 | 79.8 | 98.9
"""

# Table 3: Method | Params | UCF-101 | HMDB51 (top-1, averaged over the three splits, Sec. 4.1)
TABLE3 = """
VideoMoCo | 15M | 78.7 | 49.2
MemDPC | 32M | 86.1 | 54.5
Vi²CLR | 9M | 89.1 | 55.7
VIMPAC | 307M | 92.7 | 65.9
CORP | 32M | 93.5 | 68.0
XDC | 33M | 94.2 | 67.1
CVRL | 328M | 94.4 | 70.6
GDT | 33M | 95.2 | 72.8
MMVFAC | 94M | 95.2 | 75.0
VideoMAE | 87M | 96.1 | 73.3
MVD-L | 87M | 97.5 | 79.7
VideoMAE V2 | 1050M | 99.6 | 88.1
UniFormerV2-B/16 | 115M | 96.8 | 80.0
UniFormerV2-L/14 | 354M | 98.2 | 86.2
FTP-UniFormerV2-B/16 (ours) | 136M | 98.7 | 83.9
FTP-UniFormerV2-L/14 (ours) | 402M | 99.7 | 91.5
"""

# Table 4 (AVA V2.2): Method | FLOPs | Param | mAP
TABLE4 = """
SlowFast R101 | 138G | 53M | 23.8
HIT | 622G | 198M | 32.6
MViTv2-L | 2828G | 213M | 34.4
ST-MAE-H | 1193G | 632M | 36.2
VideoMAE-L | 597G | 305M | 37.0
MaskFeat | 2828G | 218M | 37.5
VideoMAE-H | 1192G | 633M | 39.5
InternVideo | 8733G | 1300M | 41.0
MVD-H | 1192G | 633M | 41.1
VideoMAE V2 | 4220G | 1050M | 42.6
LART-MViT | 3780G | 1640M | 42.6
Hiera-H | 1158G | 672M | 43.3
UniFormerV2-B/16 | 406G | 115M | 38.4
UniFormerV2-L/14 | 833G | 354M | 40.3
FTP-UniFormerV2-B/16 (ours) | 482G | 136M | 43.9
FTP-UniFormerV2-L/14 (ours) | 970G | 402M | 46.2
"""

# Tables 5 and 7 share these nine metric columns.
NINE = (("k400", "supervised", "top1"), ("k400", "supervised", "top5"), ("k600", "supervised", "top1"),
        ("k600", "supervised", "top5"), ("ssv2", "supervised", "top1"), ("ssv2", "supervised", "top5"),
        ("ucf101", "supervised", "top1"), ("hmdb51", "supervised", "top1"), ("ava", "ava", "mAP"))

# Table 5: VLM | K400 T1 T5 | K600 T1 T5 | SSV2 T1 T5 | UCF-101 T1 | HMDB51 T1 | AVA mAP
TABLE5 = """
OpenFlamingo | 91.2 | 98.9 | 91.3 | 98.9 | 70.2 | 91.8 | 98.4 | 88.5 | 41.9
BLIP-2 | 92.8 | 99.0 | 91.7 | 98.9 | 77.1 | 95.4 | 99.1 | 90.7 | 43.6
MiniGPT-4 | 93.1 | 99.2 | 93.2 | 99.1 | 73.3 | 94.1 | 99.1 | 89.7 | 43.2
MiniGPT-v2 | 93.3 | 99.3 | 93.6 | 99.2 | 73.6 | 94.0 | 99.6 | 91.5 | 43.6
LLaVA | 93.4 | 99.3 | 93.4 | 99.2 | 79.6 | 98.6 | 99.4 | 90.3 | 44.7
GPT-4 | 93.4 | 99.3 | 93.8 | 99.4 | 79.8 | 98.9 | 99.7 | 91.5 | 46.2
"""

# Table 7: Group | Prompts (decoded from the A-D check columns) | same nine columns as Table 5.
# Group 12 does not appear in the table (the 16 prompt subsets are groups 1-11 and 13-17).
TABLE7 = """
1 | none | 87.5 | 97.6 | 89.0 | 98.0 | 66.7 | 91.3 | 97.8 | 80.5 | 39.5
2 | A | 88.6 | 98.2 | 89.9 | 98.2 | 69.4 | 92.1 | 98.2 | 83.8 | 41.1
3 | B | 89.0 | 98.4 | 90.5 | 98.8 | 71.2 | 92.8 | 98.6 | 86.0 | 42.2
4 | C | 88.8 | 98.2 | 89.4 | 98.0 | 72.0 | 93.9 | 98.4 | 86.8 | 42.6
5 | D | 88.5 | 98.2 | 90.0 | 98.2 | 71.0 | 92.8 | 98.2 | 85.6 | 42.0
6 | A+B | 91.3 | 98.9 | 91.7 | 99.0 | 72.3 | 93.9 | 99.0 | 87.2 | 42.8
7 | A+C | 90.9 | 98.9 | 91.3 | 99.0 | 73.3 | 94.2 | 99.0 | 88.3 | 43.4
8 | A+D | 90.2 | 98.6 | 90.7 | 98.8 | 71.9 | 93.8 | 98.9 | 86.8 | 42.6
9 | B+C | 92.3 | 99.0 | 92.7 | 99.1 | 75.3 | 95.2 | 99.3 | 89.5 | 44.6
10 | B+D | 91.5 | 98.9 | 91.9 | 99.0 | 74.7 | 94.8 | 99.2 | 89.1 | 44.2
11 | C+D | 91.9 | 98.9 | 92.3 | 99.1 | 75.0 | 95.0 | 99.2 | 89.2 | 44.4
13 | A+B+C | 92.5 | 99.0 | 92.9 | 99.3 | 78.9 | 98.5 | 99.4 | 90.7 | 45.8
14 | A+B+D | 93.2 | 99.3 | 93.3 | 99.3 | 77.8 | 97.3 | 99.6 | 89.7 | 44.9
15 | A+C+D | 92.9 | 99.1 | 93.0 | 99.3 | 78.0 | 97.4 | 99.5 | 90.3 | 45.2
16 | B+C+D | 92.6 | 99.1 | 92.9 | 99.3 | 79.1 | 98.6 | 99.4 | 90.8 | 45.8
17 | A+B+C+D | 93.4 | 99.3 | 93.8 | 99.4 | 79.8 | 98.9 | 99.7 | 91.5 | 46.2
"""

# Table 6 (32x224^2 inputs): ViT | K400 T1 T5 | K600 T1 T5 | SSV2 T1 T5 | AVA mAP  (deltas in parentheses dropped)
TABLE6 = """
ViT | 81.6 | 95.1 | 83.5 | 96.2 | 67.5 | 91.0 | 28.7
ViT + FTP | 84.8 | 95.8 | 85.7 | 96.5 | 68.9 | 91.4 | 30.0
DeiT III | 82.7 | 95.5 | 84.0 | 96.5 | 69.6 | 92.7 | 29.0
DeiT III + FTP | 85.7 | 97.0 | 86.2 | 97.3 | 70.6 | 92.0 | 30.8
VideoMAE-L | 85.2 | 96.8 | 86.1 | 97.0 | 75.4 | 95.2 | 37.0
VideoMAE-L + FTP | 88.3 | 97.6 | 89.0 | 98.2 | 77.0 | 95.9 | 39.5
X-CLIP-L | 87.7 | 97.4 | 88.3 | 97.7 | 72.2 | 93.7 | 36.1
X-CLIP-L + FTP | 89.6 | 98.3 | 90.1 | 98.3 | 73.1 | 94.5 | 38.2
ILA | 88.7 | 97.8 | 89.2 | 98.2 | 70.2 | 91.8 | 36.0
ILA + FTP | 91.0 | 98.7 | 90.6 | 98.5 | 71.5 | 93.5 | 37.9
MTV-H | 89.1 | 98.2 | 89.6 | 98.3 | 67.6 | 90.1 | 31.2
MTV-H + FTP | 91.4 | 98.7 | 90.9 | 98.5 | 69.1 | 92.6 | 33.2
UniformerV2-L | 89.3 | 98.2 | 89.5 | 98.3 | 73.0 | 94.5 | 40.3
UniformerV2-L + FTP | 93.4 | 99.3 | 93.8 | 99.4 | 79.8 | 98.9 | 46.2
"""
SEVEN = NINE[:6] + NINE[8:]

# Table B4 (K600): Methods | Input | Crops | TFLOPs | Top-1 | Top-5
TABLE_B4 = """
SlowFast R101-NL | 64x224^2 | 10x3 | 7.02 | 81.8 | 95.1
TimeSformer-L | 96x224^2 | 10x3 | 7.14 | 82.2 | 95.6
ViViT-L FE | 32x224^2 | 1x3 | 11.94 | 82.9 | 94.6
MTV-B | 32x320^2 | 4x3 | 4.79 | 83.6 | 96.1
MViT-B | 32x224^2 | 3x3 | 4.10 | 83.8 | 96.3
MViTv2-B | 32x312^2 | 5x3 | 1.03 | 85.5 | 97.2
MaskFeat | 64x224^2 | 4x3 | 3.77 | 86.4 | 97.4
MViTv2-L | 40x352^2 | 5x3 | 45.48 | 87.9 | 97.9
MaskFeat | 40x312^2 | 4x3 | 33.94 | 88.3 | 98.0
VideoMAE V2-H | 16x224^2 | 2x3 | 17.88 | 88.3 | 98.1
VideoMAE V2-g | 64x266^2 | 2x3 | 38.16 | 88.8 | 98.2
UniFormerV2-B/16 | 8x224^2 | 4x3 | 1.8 | 87.4 | 97.9
UniFormerV2-L/14 | 32x224^2 | 2x3 | 16.0 | 89.5 | 98.3
FTP-UniFormerV2-B/16 (Ours) | 8x224^2 | 4x3 | 2.2 | 92.2 | 98.9
FTP-UniFormerV2-B/16 (Ours) | 8x280^2 | 4x3 | 8.1 | 93.0 | 99.0
FTP-UniFormerV2-L/14 (Ours) | 32x224^2 | 2x3 | 18.4 | 93.8 | 99.4
FTP-UniFormerV2-L/14 (Ours) | 32x336^2 | 2x3 | 78.7 | 94.4 | 99.3
"""

# Table C5: number of keyframes K given to the VLM -> K400 top-1
TABLE_C5 = "1 | 91.9\n3 | 92.5\n5 | 93.4\n7 | 93.2"


def _pretrain(cell: str) -> tuple[str, list[str]]:
    notes = [text for mark, text in FOOTNOTES.items() if mark in cell]
    for mark in FOOTNOTES:
        cell = cell.replace(mark, "")
    return cell.replace(" ", ""), notes


def _multiview(rows: Rows, block: str, source: str, dataset: str) -> None:
    """Tables 1, 2, B4: inputs, temporal x spatial crops, total TFLOPs, top-1/top-5."""
    for cells in parse_block(block):
        if source == "ftp Table 1":
            name, pretrain_cell, shape, views, params, tflops, top1, top5 = cells
        elif source == "ftp Table 2":
            name, shape, views, params, tflops, top1, top5 = cells
            pretrain_cell = ""
        else:
            name, shape, views, tflops, top1, top5 = cells
            pretrain_cell, params = "", None
        views = views.replace(" ", "").replace("_", "")
        method, backbone = split_name(name)
        pretrain, notes = _pretrain(pretrain_cell)
        frames, resolution = input_shape(shape)
        pv, tot, fnotes = flops(total=(tflops or "").rstrip("T") or None, views=views, unit="T")
        if not views and tot is not None:
            fnotes.append("views not reported")
        for metric, value in (("top1", top1), ("top5", top5)):
            rows.add(method=method, backbone=backbone, pretrain=pretrain, frames=frames, resolution=resolution,
                     views=views, gflops_per_view=pv, gflops_total=tot, params_m=params, dataset=dataset,
                     protocol="supervised", metric=metric, value=value, source=source, notes=notes + fnotes)


def _small_tables(rows: Rows) -> None:
    """Tables 3 (UCF/HMDB) and 4 (AVA)."""
    for name, params, ucf, hmdb in parse_block(TABLE3):
        method, backbone = split_name(name)
        for dataset, value in (("ucf101", ucf), ("hmdb51", hmdb)):
            rows.add(method=method, backbone=backbone, params_m=params, dataset=dataset, protocol="supervised",
                     metric="top1", value=value, source="ftp Table 3", notes="averaged over the three splits")
    for name, gflops_cell, params, value in parse_block(TABLE4):
        method, backbone = split_name(name)
        rows.add(method=method, backbone=backbone, gflops_total=float(gflops_cell.rstrip("G")), params_m=params,
                 dataset="ava", protocol="ava", metric="mAP", value=value, source="ftp Table 4",
                 notes="AVA V2.2; FLOPs as printed (GFLOPs), number of views not stated")


def _ablations(rows: Rows) -> None:
    """Tables 5, 6, 7 and C5, all with 32x224^2 inputs."""
    ftp_l = {"method": "FTP-UniFormerV2", "backbone": "ViT-L/14", "pretrain": FTP_PRETRAIN, "frames": 32,
             "resolution": 224}
    for vlm, *values in parse_block(TABLE5):
        for (dataset, protocol, metric), value in zip(NINE, values):
            rows.add(**ftp_l, dataset=dataset, protocol=protocol, metric=metric, value=value,
                     source="ftp Table 5", variant=f"VLM={vlm}")
    for name, *values in parse_block(TABLE6):
        note = ""
        if name.startswith("UniformerV2-L"):
            method = "FTP-UniFormerV2" if name.endswith("+ FTP") else "UniFormerV2"
            backbone, note = "ViT-L/14", f"written '{name}'; same numbers as the L/14 32x224 rows of Table 1"
        else:
            method, backbone = name, ""
        for (dataset, protocol, metric), value in zip(SEVEN, values):
            rows.add(method=method, backbone=backbone, frames=32, resolution=224, dataset=dataset,
                     protocol=protocol, metric=metric, value=value, source="ftp Table 6", notes=note)
    for group, prompts, *values in parse_block(TABLE7):
        for (dataset, protocol, metric), value in zip(NINE, values):
            rows.add(**ftp_l, dataset=dataset, protocol=protocol, metric=metric, value=value,
                     source="ftp Table 7", variant=f"group {group}: {prompts}",
                     notes="prompts A category, B components, C description, D context")
    for k, value in parse_block(TABLE_C5):
        rows.add(**ftp_l, dataset="k400", protocol="supervised", metric="top1", value=value,
                 source="ftp Table C5", variant=f"keyframes K={k}")


def build() -> Rows:
    """All FTP rows."""
    rows = Rows(PAPER)
    _multiview(rows, TABLE1, "ftp Table 1", "k400")
    _multiview(rows, TABLE2, "ftp Table 2", "ssv2")
    _small_tables(rows)
    _ablations(rows)
    _multiview(rows, TABLE_B4, "ftp Table B4", "k600")
    return rows
