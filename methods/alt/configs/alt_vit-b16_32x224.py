# alt, real size: CLIP ViT-B/16 (ALT-B/16), 32 frames at 224x224, the paper's K400 schedule (Sec. 3.4, appendix B).
# Everything but the clip length comes from the 8-frame config.
_base_ = ["./alt_vit-b16_8x224.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 32
train_pipeline, test_pipeline, train_dataloader, test_dataloader = pipelines.frame_variant(_base_, num_frames)
val_pipeline = test_pipeline
