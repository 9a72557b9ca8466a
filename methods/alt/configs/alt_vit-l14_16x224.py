# alt, real size: CLIP ViT-L/14 (ALT-L/14), 16 frames at 224x224, the paper's K400 schedule (Sec. 3.4, appendix B).
# Weights: a local OpenAI/open_clip ViT-L-14 checkpoint, given as a path or the tag `openai-vit-l-14` mapped to a
# file in the user config (nothing is downloaded). The B/16 config of the same frames with the L/14 encoder.
_base_ = ["./alt_vit-b16_16x224.py"]

clip_arch = "ViT-L-14"
clip_weights = "openai-vit-l-14"
model = dict(backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights, decoder_depth=6),
             cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights))
