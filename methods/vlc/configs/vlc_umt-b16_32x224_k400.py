# vlc, UMT-B/16, 32x224, Kinetics-400 (Table 1; the zero-shot model of Table 4).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). The 16-frame Kinetics-400 config
# with 32 frames and half the batch per GPU (4 x 7 GPUs).
_base_ = ["./vlc_umt-b16_16x224_k400.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 32
model = dict(backbone=dict(num_frames=num_frames))
train_pipeline, test_pipeline, train_dataloader, test_dataloader = pipelines.frame_variant(_base_, num_frames)
val_pipeline = test_pipeline
train_dataloader.update(batch_size=4)
auto_scale_lr = dict(base_batch_size=28)
