# bike, real size: CLIP ViT-L/14-336px, 8 frames at 336x336, Kinetics-400 (Table 1 / Table 6i recipe).
# Attributes branch off at inference, as in the ViT-L/14 config (Sec. 3.3); set
# model.cls_head.attributes.enabled=True to fuse it with lambda = 0.8 (appendix A.2).
# Everything but the CLIP and the input size comes from the ViT-L/14 config (20-epoch Table A.1 schedule).
_base_ = ["./bike_vit-l14_8x224_k400.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

img_size = 336
clip_arch = "ViT-L-14-336"
clip_weights = "openai-vit-l-14-336"

model = dict(
    backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights),
)

# The base's pipelines were evaluated at 224: restated at 336. Short side 336 before the random crop, as the public
# utils/Augmentation.py get_augmentation (scale_size = 256 at 224, else the input size).
train_pipeline = pipelines.train(_base_.num_frames, img_size, pipelines.random_resized_crop(), short_side=img_size,
                                 after=[dict(type="RandomGrayscaleClip", p=0.2)], meta_keys=_base_.meta_keys)
test_pipeline = pipelines.test(_base_.num_frames, img_size, meta_keys=_base_.meta_keys)
val_pipeline = test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
