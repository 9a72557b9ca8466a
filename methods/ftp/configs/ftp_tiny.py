# ftp, tiny size: the synthetic world's tiny video ViT (frozen, 16x64x64 -> 8x4x4x96 map), the tiny CLIP's
# text encoder, the offline oracle VLM. Cheap by design: the frozen encoder's outputs are cached on disk
# (deterministic sampling, no random crop), so a grid cell pays only for its processors and head.
# Class names and annotation lists are set by the protocol; the defaults let init_recognizer work alone.
_base_ = ["../../_base_/default_runtime.py", "../../_base_/datasets/synthetic_video.py"]

num_frames = 16
img_size = 64
prompts = ["A", "B", "C", "D"]
stage1_epochs = 10
max_epochs = 30

model = dict(
    type="FTPRecognizer",
    backbone=dict(type="FTPTinyVideo", weights="synthetic:tiny-video", num_frames=num_frames, image_size=img_size),
    cls_head=dict(type="FTPHead", num_classes=8, in_channels=96, num_heads=4, hidden=192, mlp_ratio=2.0,
                  dropout_ratio=0.0, label_smooth_eps=0.1, topk=(1, 5), average_clips="prob",
                  loss_cls=dict(type="CrossEntropyLoss")),
    prompts=prompts,
    feature_grid=(8, 4, 4),
    text=dict(provider="offline", provider_options={}, params={}, max_height=None, dataset=None, missing="error",
              noise=0.0, noise_seed=0, vlm=None, vlms={},
              encoder=dict(arch="vlbench-tiny-vit", weights="synthetic:tiny-clip")),
    text_dim=64,
    keyframes=5,
    num_frames=num_frames,
    stage1_epochs=stage1_epochs,
    alpha=0.7,
    head_type="ftp",
    pool="mean",
    blending=dict(type="MixupBlending", num_classes=8, alpha=0.8),
    feature_cache=True,
    encoder=None,  # a name in `encoders` replaces the backbone (Table 6 grid); None keeps `backbone`
    encoders={},
    temperature=0.07,
    # Stage 1 shared (methods/ftp/stage1.py): each letter's processors are trained once on `dataset` and loaded
    # by every cell, whose own run is stage 2 only; 'per_cell' trains them in each cell on its own training set.
    stage1=dict(mode="shared", dataset="syn_k400", split="train"),
    data_preprocessor=dict(type="mmaction.ActionDataPreprocessor", mean=[114.75] * 3, std=[57.375] * 3, format_shape="NCTHW"),
)

meta_keys = ("img_shape", "img_key", "video_id", "timestamp", "filename")
# Deterministic sampling in training too (frozen encoder -> cacheable features); no flip: the synthetic
# world has left/right motion classes that a flip would swap.
decode = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=num_frames, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="CenterCrop", crop_size=img_size),
    dict(type="FormatShape", input_format="NCTHW"),
]
# The frozen encoder and deterministic sampling make every clip the same each epoch: MemoizedClip
# decodes it once per process (and a local grid job runs its cells in one process).
train_pipeline = [dict(type="MemoizedClip", pipeline=decode), dict(type="PackActionInputs", meta_keys=meta_keys)]
test_pipeline = [dict(type="MemoizedClip", pipeline=decode), dict(type="PackActionInputs", meta_keys=meta_keys)]
val_pipeline = test_pipeline

# Loaders: methods/_base_/datasets/synthetic_video.py, with this config's pipelines, in the main process
# (MemoizedClip keeps its decoded clips in process memory: the main process keeps them across epochs).
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(pipeline=test_pipeline))

# Global batch per stage (methods/ftp/batch.py) = loader batch x ranks x accumulation steps; tiny: one batch of 8.
batch = dict(stage1=8, stage2=8)
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=1000)
# Stage 1 (Table A2): AdamW, betas 0.9/0.95, wd 0.05; stage 2 (Table A3): AdamW, betas 0.9/0.999, wd 0.05.
# Learning rates are scaled up for the tiny world's few hundred steps.
optim_wrapper = dict(
    constructor="FTPOptimWrapperConstructor",
    optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(stage1=dict(lr=2e-3, betas=(0.9, 0.95)), stage2=dict(lr=1e-3, betas=(0.9, 0.999))),
)
param_scheduler = []  # each stage's warmup + cosine is applied by FTPStageHook
custom_hooks = [dict(type="FTPStageHook", warmup_epochs=(1, 1), cpu_threads=1)]

# Only what differs from the runtime base (MMEngine merges the rest).
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
