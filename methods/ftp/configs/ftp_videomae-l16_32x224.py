# FTP on VideoMAE ViT-L/16 (MMAction2 VisionTransformer, tubelet 2), 32x224x224 (ftp paper Table 6, "with FTP"; model.head_type='linear' + model.prompts=[] is the
# row without FTP). Frozen encoder from a local file given as a path or a tag mapped in the user config.
_base_ = ["./ftp_uniformerv2-l14_32x224.py"]

model = dict(
    backbone=dict(_delete_=True, type="FTPVideoMAE", img_size=224, patch_size=16, embed_dims=1024, depth=24, num_heads=16, mlp_ratio=4, qkv_bias=True, num_frames=32, norm_cfg=dict(type="LN", eps=1e-6), weights="videomae-l16-k400",
                  weights_ignore=("head.*", "cls_head.*")),
    cls_head=dict(in_channels=1024, num_heads=16),
    feature_grid=(16, 14, 14),
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
)
