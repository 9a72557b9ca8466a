# FTP on CLIP ViT-L/14 per frame (open_clip), standing in for X-CLIP-L, 32x224x224 (ftp paper Table 6, "with FTP"; model.head_type='linear' + model.prompts=[] is the
# row without FTP). Frozen encoder from a local file given as a path or a tag mapped in the user config.
_base_ = ["./ftp_uniformerv2-l14_32x224.py"]

model = dict(
    backbone=dict(_delete_=True, type="FTPCLIPFrames", clip_arch="ViT-L-14", clip_weights="openai-vit-l-14"),
    cls_head=dict(in_channels=1024, num_heads=16),
    feature_grid=(32, 16, 16),
    data_preprocessor=dict(mean=[122.770938, 116.7460125, 104.09373615], std=[68.5005327, 66.6321579, 70.32316305]),
)
