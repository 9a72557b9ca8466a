# bike, real size: CLIP ViT-B/32, 8 frames at 224x224, Kinetics-400 (Table 1 / Table 6i recipe).
# Everything but the video encoder's CLIP comes from the ViT-B/16 config (same attributes branch, lambda = 0.6,
# same Table A.1 schedule).
_base_ = ["./bike_vit-b16_8x224_k400.py"]

clip_arch = "ViT-B-32"
clip_weights = "openai-vit-b-32"

# Dicts merge into the base key by key: only the CLIP of the video and category encoders changes.
model = dict(
    backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights),
)
