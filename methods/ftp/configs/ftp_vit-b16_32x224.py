# FTP on ViT-B/16 (timm, per frame; the paper's 'ViT [1]' row, size unstated), 32x224x224 (ftp paper Table 6, "with FTP"; model.head_type='linear' + model.prompts=[] is the
# row without FTP). Frozen encoder from a local file given as a path or a tag mapped in the user config.
_base_ = ["./ftp_uniformerv2-l14_32x224.py"]

model = dict(
    backbone=dict(_delete_=True, type="FTPTimmFrames", model_name="vit_base_patch16_224", weights="timm-vit-b16-in21k",
                  weights_ignore=("head.*",)),
    cls_head=dict(in_channels=768, num_heads=12),
    feature_grid=(32, 14, 14),
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
)
