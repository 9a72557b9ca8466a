# bike, real size: CLIP ViT-L/14-336px, 8 frames at 336x336, Kinetics-400 (Table 1 / Table 6i recipe).
# Attributes branch off at inference, as in the ViT-L/14 config (Sec. 3.3); set
# model.cls_head.attributes.enabled=True to fuse it with lambda = 0.8 (appendix A.2).
# Everything but the CLIP and the input size comes from the ViT-L/14 config (20-epoch Table A.1 schedule).
_base_ = ["./bike_vit-l14_8x224_k400.py"]

img_size = 336
clip_arch = "ViT-L-14-336"
clip_weights = "openai-vit-l-14-336"

model = dict(
    backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights),
)

# The base's pipelines were evaluated at 224: restated at 336. Short side 336 before the random crop, as the public
# utils/Augmentation.py get_augmentation (scale_size = 256 at 224, else the input size).
train_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=_base_.num_frames, num_clips=1),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="RandomResizedCrop"),
    dict(type="Resize", scale=(img_size, img_size), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5),
    dict(type="RandomGrayscaleClip", p=0.2),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=_base_.meta_keys),
]
test_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=_base_.num_frames, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="CenterCrop", crop_size=img_size),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=_base_.meta_keys),
]
val_pipeline = test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
