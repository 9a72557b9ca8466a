# bike, real size: CLIP ViT-L/14-336px, 16 frames at 336x336, Kinetics-400 (Table 1 / Table 6i recipe).
# Everything but the clip length comes from the 8-frame config (the teacher keeps its 8 frames, appendix A.2).
_base_ = ["./bike_vit-l14-336_8x336_k400.py"]

num_frames = 16
# A list replaces the base's list whole: the base's pipelines, with this clip length in the sampling step.
train_pipeline = [dict(step, clip_len=num_frames) if "clip_len" in step else step for step in _base_.train_pipeline]
test_pipeline = [dict(step, clip_len=num_frames) if "clip_len" in step else step for step in _base_.test_pipeline]
val_pipeline = test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
