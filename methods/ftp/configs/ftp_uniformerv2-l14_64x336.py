# FTP-UniFormerV2-L/14, 64x336x336 (ftp paper Table 1: 78.7 TFLOPs over 2x3 views, 402 M parameters).
_base_ = ["./ftp_uniformerv2-l14_32x224.py"]

num_frames = 64
img_size = 336
model = dict(
    # Its own weights: OpenGVLab released K710 L/14 at 336 px (k710_uniformerv2_l14_8x336.pyth, trained from CLIP
    # ViT-L/14-336); the authors' code does not interpolate a 224-px table, so a 224-px file is refused.
    backbone=dict(input_resolution=img_size, t_size=num_frames, weights="uniformerv2-l14-k710-336"),
    feature_grid=(num_frames, img_size // 14, img_size // 14),
    num_frames=num_frames,
)
train_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=num_frames, num_clips=1),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, 384)),
    dict(type="MultiScaleCrop", input_size=img_size, scales=(1, 0.875, 0.75, 0.66), random_crop=False,
         max_wh_scale_gap=1),
    dict(type="Resize", scale=(img_size, img_size), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "img_key", "video_id", "timestamp", "filename")),
]
test_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=num_frames, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="CenterCrop", crop_size=img_size),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "img_key", "video_id", "timestamp", "filename")),
]
# the paper's global batches (512 / 128) with 2 clips of 64x336 per GPU: on one GPU 256 and 64 accumulation steps
batch = dict(stage1=512, stage2=128)
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
