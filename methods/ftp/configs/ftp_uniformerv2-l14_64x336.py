# FTP-UniFormerV2-L/14, 64x336x336 (ftp paper Table 1: 78.7 TFLOPs over 2x3 views, 402 M parameters).
_base_ = ["./ftp_uniformerv2-l14_32x224.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 64
img_size = 336
model = dict(
    # Its own weights: OpenGVLab released K710 L/14 at 336 px (k710_uniformerv2_l14_8x336.pyth, trained from CLIP
    # ViT-L/14-336); the authors' code does not interpolate a 224-px table, so a 224-px file is refused.
    backbone=dict(input_resolution=img_size, t_size=num_frames, weights="uniformerv2-l14-k710-336"),
    feature_grid=(num_frames, img_size // 14, img_size // 14),
    num_frames=num_frames,
)
train_pipeline = pipelines.train(num_frames, img_size, pipelines.multiscale_crop(img_size), short_side=384,
                                 meta_keys=pipelines.VIDEO_META_KEYS)
test_pipeline = pipelines.test(num_frames, img_size, meta_keys=pipelines.VIDEO_META_KEYS)
# the paper's global batches (512 / 128) with 2 clips of 64x336 per GPU: on one GPU 256 and 64 accumulation steps
batch = dict(stage1=512, stage2=128)
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
