# vlc, UMT-B/16, 32x224, Kinetics-400 (Table 1; the zero-shot model of Table 4).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). The 16-frame Kinetics-400 config
# with 32 frames and half the batch per GPU (4 x 7 GPUs).
_base_ = ["./vlc_umt-b16_16x224_k400.py"]

num_frames = 32
model = dict(backbone=dict(num_frames=num_frames))
# A list replaces the base's list whole: the base's pipelines, with this clip length in the sampling step.
train_pipeline = [dict(step, clip_len=num_frames) if "clip_len" in step else step for step in _base_.train_pipeline]
test_pipeline = [dict(step, clip_len=num_frames) if "clip_len" in step else step for step in _base_.test_pipeline]
val_pipeline = test_pipeline
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
auto_scale_lr = dict(base_batch_size=28)
