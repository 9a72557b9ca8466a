# FTP-UniFormerV2-L/14, 32x224x224 (ftp paper Table 1: 18.4 TFLOPs over 2x3 views, 402 M parameters).
# Encoder: MMAction2's UniFormerV2-L/14 (CLIP-400M + K710), frozen; text encoder: CLIP ViT-L/14.
_base_ = ["./ftp_uniformerv2-b16_8x224.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 32
img_size = 224
uniformerv2_l14 = dict(input_resolution=img_size, patch_size=14, width=1024, layers=24, heads=16, t_size=num_frames,
                       dw_reduction=1.5, backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True,
                       double_lmhra=True, return_list=[20, 21, 22, 23], n_layers=4, n_dim=1024, n_head=16,
                       mlp_factor=4.0, drop_path_rate=0.0, mlp_dropout=[0.5, 0.5, 0.5, 0.5])
model = dict(
    backbone=dict(_delete_=True, type="FTPUniFormerV2", weights="uniformerv2-l14-k710", global_token="add",
                  weights_ignore=("cls_head.*",),  # the K710 classifier: FTP reads the backbone only
                  **uniformerv2_l14),
    cls_head=dict(in_channels=1024, num_heads=16),
    feature_grid=(num_frames, img_size // 14, img_size // 14),
    text=dict(encoder=dict(arch="ViT-L-14", weights="openai-vit-l-14")),
    text_dim=768,
    num_frames=num_frames,
)
train_pipeline, test_pipeline, train_dataloader, test_dataloader = pipelines.frame_variant(_base_, num_frames)
# the paper's global batches (512 / 128) with 4 clips per GPU: on one GPU 128 and 32 accumulation steps
batch = dict(stage1=512, stage2=128)
train_dataloader.update(batch_size=4)
test_dataloader.update(batch_size=1)
