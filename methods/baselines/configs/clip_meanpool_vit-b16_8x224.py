# clip_meanpool, real size: CLIP ViT-B/16, 8 frames at 224x224, ActionCLIP-like schedule on K400.
# Weights: a local OpenAI/open_clip ViT-B-16 checkpoint, given as a path or the tag
# `openai-vit-b-16` mapped to a file in the user config (nothing is downloaded).
_base_ = ["./clip_meanpool_tiny.py"]
from methods import pipelines, schedules  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 8
img_size = 224
clip_arch = "ViT-B-16"
clip_weights = "openai-vit-b-16"
templates = [
    "a photo of {}.", "a video of {}.", "a photo of a person {}.", "a video of a person {}.",
    "a photo of a person using {}.", "a video of a person using {}.", "a photo of a person doing {}.",
    "a video of a person doing {}.", "a photo of a person performing {}.", "a video of a person performing {}.",
    "Human action of {}.", "{}, an action.", "{} this is an action.", "Playing action of {}.", "{}",
    "Video classification of {}.",
]

model = dict(
    backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights, class_names="kinetics400.csv",
                  templates=templates),
)

train_pipeline = pipelines.train(num_frames, img_size, pipelines.random_resized_crop())
test_pipeline = pipelines.test(num_frames, img_size)
train_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=8, num_workers=8, dataset=dict(pipeline=test_pipeline))

max_epochs = 30
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=5e-5, weight_decay=0.2), paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.1)}))
param_scheduler = schedules.warmup_cosine(max_epochs, 5, start_factor=0.01)

# GPU training path (issue 22; docs/DECISIONS.md "GPU training path (issue 22)"): bf16 autocast through MMEngine's
# AmpOptimWrapper (the test loop stays fp32), loader workers kept across epochs, pinned host memory; the SLURM
# profile's cpus_per_task covers the workers plus the main process. `compile = True` compiles the train step
# with torch.compile through MMEngine's Runner.
optim_wrapper.update(type="AmpOptimWrapper", dtype="bfloat16")
train_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
test_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
compile = False
