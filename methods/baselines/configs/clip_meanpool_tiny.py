# clip_meanpool, tiny size: the synthetic world's tiny CLIP (64x64, patch 8), 8 frames, CPU schedule.
# Class names and annotation lists are set by the protocol; the defaults below let
# `mmaction.apis.init_recognizer(config)` work on its own (the synthetic K400-like classes).
_base_ = ["../../_base_/default_runtime.py", "../../_base_/datasets/synthetic_video.py",
          "../../_base_/schedules/tiny_cpu.py"]

num_frames = 8
img_size = 64
clip_arch = "vlbench-tiny-vit"
clip_weights = "synthetic:tiny-clip"  # a local file path or a tag; None = random init (logged)
templates = ["a video of {}.", "a photo of {}.", "{}"]

model = dict(
    type="CLIPMeanPool",
    backbone=dict(type="CLIPFrameEncoder", clip_arch=clip_arch, clip_weights=clip_weights, pool="mean", frozen=False),
    cls_head=dict(
        type="CLIPTextHead",
        clip_arch=clip_arch,
        clip_weights=clip_weights,
        class_names=dict(dataset="syn_k400"),
        templates=templates,
        train_text=False,
        average_clips="prob",
        loss_cls=dict(type="CrossEntropyLoss"),
    ),
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        format_shape="NCTHW",
    ),
)

max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=5e-4), paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.2)}))
