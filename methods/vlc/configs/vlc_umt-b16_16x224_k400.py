# vlc, UMT-B/16, 16x224, Kinetics-400 (Table 1, Table 2b, Table 5).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). The 8-frame UCF-101 config with
# 16 frames, the Kinetics-400 classes and text bank, and the Kinetics-400 schedule.
_base_ = ["./vlc_umt-b16_8x224_ucf101.py"]
from methods import pipelines, schedules  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 16
model = dict(
    backbone=dict(num_frames=num_frames),
    cls_head=dict(
        num_classes=400,
        class_names="kinetics400.csv",
        text=dict(datasets=["k400", "k400", "k600", "ucf101", "hmdb51"]),
        num_negatives=3500,  # section 4: 3500 negatives on K400, 1200 on UCF-101
    ),
)

train_pipeline, test_pipeline, train_dataloader, test_dataloader = pipelines.frame_variant(_base_, num_frames)
val_pipeline = test_pipeline

# Kinetics-400 schedule of section 4: AdamW, lr 1.5e-4, weight decay 0.05, 40 epochs with 5 of warm-up (7 GPUs).
max_epochs = 40
warmup_epochs = 5
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = schedules.warmup_cosine(max_epochs, warmup_epochs, start_factor=1e-3, eta_min=1e-6)
