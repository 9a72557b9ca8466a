# vlc, VideoMAE ViT-B/16, 16x224, UCF-101 (Table 2a).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). Video model: VideoMAE ViT-B/16 (Tong et al. 2022), tubelet 2, dense sampling (stride 4) as VideoMAE.
# The UMT-B/16 UCF-101 config with this video model, 16 frames and its sampling.
_base_ = ["./vlc_umt-b16_8x224_ucf101.py"]

num_frames = 16
model = dict(backbone=dict(num_frames=num_frames, tubelet_size=2, video_weights="videomae-b16-k400-pretrain"))
# A list replaces the base's list whole: the base's pipelines, with dense sampling in place of UMT's sparse one.
train_pipeline = [dict(type="SampleFrames", clip_len=num_frames, frame_interval=4, num_clips=1)
                  if step.type == "UniformSample" else step for step in _base_.train_pipeline]
test_pipeline = [dict(type="SampleFrames", clip_len=num_frames, frame_interval=4, num_clips=1, test_mode=True)
                 if step.type == "UniformSample" else step for step in _base_.test_pipeline]
val_pipeline = test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
