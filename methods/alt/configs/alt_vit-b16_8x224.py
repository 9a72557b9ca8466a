# alt, real size: CLIP ViT-B/16 (ALT-B/16), 8 frames at 224x224, the paper's K400 schedule (Sec. 3.4, appendix B).
# Weights: a local OpenAI/open_clip ViT-B-16 checkpoint, given as a path or the tag `openai-vit-b-16` mapped to a
# file in the user config (nothing is downloaded). Corpus: `bench text build --method alt --dataset k400`.
# The shared base of the real sizes: alt_vit-b16_{16,32}x224 change the frames, alt_vit-l14_* the encoder.
_base_ = ["./alt_tiny.py"]
from methods import pipelines, schedules  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 8
img_size = 224
clip_arch = "ViT-B-16"
clip_weights = "openai-vit-b-16"
# Eq. (10)'s "handcraft templates (Ni et al., 2022)": X-CLIP's text augmentation, the 16 ActionCLIP templates
# (= bench/text/prompts/ensembles/actionclip.yaml).
templates = [
    "a photo of action {}", "a picture of action {}", "Human action of {}", "{}, an action", "{} this is an action",
    "{}, a video of action", "Playing action of {}", "{}", "Playing a kind of action, {}",
    "Doing a kind of action, {}", "Look, the human is {}", "Can you recognize the action of {}?",
    "Video classification of {}", "A video of {}", "The man is {}", "The woman is {}",
]

model = dict(
    backbone=dict(clip_arch=clip_arch, clip_weights=clip_weights, tome_r=8, decoder_depth=4,
                  corpus=dict(datasets=["k400"], placeholder_entities=6000)),
    cls_head=dict(clip_arch=clip_arch, clip_weights=clip_weights, class_names="kinetics400.csv",
                  templates=templates, label_smooth_eps=0.1),  # appendix B: label smoothing (X-CLIP: 0.1)
    # appendix B: Mixup as X-CLIP (alpha 0.8; X-CLIP's CutMix is not named by the paper); num_classes is set
    # by the protocol to the training classes, like the head's.
    data_preprocessor=dict(blending=dict(type="MixupBlending", num_classes=400, alpha=0.8)),
)

# Sparse sampling (TSN) and X-CLIP's augmentation: multi-scale crop and flip (Mixup / label smoothing: above).
train_pipeline = pipelines.train(num_frames, img_size, pipelines.multiscale_crop(224))
# Test: X-CLIP's (datasets/build.py, build_dataloader): short side int(256 / 224 * 224) = 256, centre crop 224;
# its 3-crop resizes to 224 and takes three 224 crops (protocol_defaults.views.three_crop_resize).
test_pipeline = pipelines.test(num_frames, img_size, short_side=256)
val_pipeline = test_pipeline
# Protocol defaults of X-CLIP's public code (ALT follows its protocols): few-shot on the K-shot list itself for
# 50 epochs (configs/*/16_32.yaml EPOCHS, main.py); several test clips drawn at random (SampleFrames multiview).
protocol_defaults = dict(fewshot=dict(repeat="none", epochs=50), views=dict(sampling="random", three_crop_resize=224))
# Batch 256 over 8 GPUs (appendix B); few-shot: batch 64 and decoder lr x10 (README).
train_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=8, num_workers=8, dataset=dict(pipeline=test_pipeline))

# AdamW (0.9, 0.98), lr 8e-5 (8e-6 for the ViT), weight decay 0.001, 30 epochs: 5 warm-up + cosine.
max_epochs = 30
warmup_epochs = 5
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=8e-5, weight_decay=0.001))
param_scheduler = schedules.warmup_cosine(max_epochs, warmup_epochs, start_factor=0.01)

# GPU training path (issue 22; docs/DECISIONS.md "GPU training path (issue 22)"): bf16 autocast through MMEngine's
# AmpOptimWrapper (the test loop stays fp32), loader workers kept across epochs, pinned host memory; the SLURM
# profile's cpus_per_task covers the workers plus the main process. `compile = True` compiles the train step
# with torch.compile through MMEngine's Runner.
optim_wrapper.update(type="AmpOptimWrapper", dtype="bfloat16")
train_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
test_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
compile = False
