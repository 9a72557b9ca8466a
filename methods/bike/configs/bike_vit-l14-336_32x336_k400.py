# bike, real size: CLIP ViT-L/14-336px, 32 frames at 336x336, Kinetics-400 (Table 1 / Table 6i recipe).
# Everything but the clip length comes from the 8-frame config (the teacher keeps its 8 frames, appendix A.2).
_base_ = ["./bike_vit-l14-336_8x336_k400.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 32
train_pipeline, test_pipeline, train_dataloader, test_dataloader = pipelines.frame_variant(_base_, num_frames)
val_pipeline = test_pipeline
