# FTP on ViT-B/16 (timm, per frame; the paper's 'ViT [1]' row, size unstated), 32x224x224 (ftp paper Table 6, "with FTP"; model.head_type='linear' + model.prompts=[] is the
# row without FTP). Frozen encoder from a local file given as a path or a tag mapped in the user config.
# The DeiT III-B/16 config (the same timm per-frame encoder type, width, grid and ImageNet normalisation) with this
# model and its weights.
_base_ = ["./ftp_deit3-b16_32x224.py"]

model = dict(backbone=dict(model_name="vit_base_patch16_224", weights="timm-vit-b16-in21k"))
