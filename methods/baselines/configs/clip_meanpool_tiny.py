# clip_meanpool, tiny size: the synthetic world's tiny CLIP (64x64, patch 8), 8 frames, CPU schedule.
# Class names and annotation lists are set by the protocol; the defaults below let
# `mmaction.apis.init_recognizer(config)` work on its own (the synthetic K400-like classes).
_base_ = ["../../_base_/default_runtime.py", "../../_base_/models/tiny_clip_text_head.py",
          "../../_base_/datasets/synthetic_video.py", "../../_base_/schedules/tiny_cpu.py"]

model = dict(
    type="CLIPMeanPool",
    backbone=dict(type="CLIPFrameEncoder", clip_arch=_base_.clip_arch, clip_weights=_base_.clip_weights, pool="mean",
                  frozen=False),
)  # the text head and the normaliser: methods/_base_/models/tiny_clip_text_head.py

max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=5e-4), paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.2)}))
