# FTP-UniFormerV2-B/16, 8x224x224 (ftp paper Table 1: 2.2 TFLOPs over 4x3 views, 136 M parameters).
# Encoder: MMAction2's UniFormerV2-B/16 (CLIP-400M + K710), frozen; weights from a local MMAction2 checkpoint
# given as a path or the tag below mapped to a file in the user config (nothing is downloaded).
# VLM: GPT-4 through an OpenAI-compatible endpoint (key from the environment); text encoder: CLIP ViT-B/16.
# Schedule: stage 1 = 40 epochs (appendix A.2; Table A2 says 800), stage 2 = 40 epochs (section 4.1, Table A3).
_base_ = ["./ftp_tiny.py"]
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 8
img_size = 224
stage1_epochs = 40
max_epochs = 80
num_classes = 400

uniformerv2_b16 = dict(input_resolution=224, patch_size=16, width=768, layers=12, heads=12, t_size=num_frames,
                       dw_reduction=1.5, backbone_drop_path_rate=0.0, temporal_downsample=False, no_lmhra=True,
                       double_lmhra=True, return_list=[8, 9, 10, 11], n_layers=4, n_dim=768, n_head=12,
                       mlp_factor=4.0, drop_path_rate=0.0, mlp_dropout=[0.5, 0.5, 0.5, 0.5])
model = dict(
    backbone=dict(_delete_=True, type="FTPUniFormerV2", weights="uniformerv2-b16-k710", global_token="add",
                  weights_ignore=("cls_head.*",),  # the K710 classifier: FTP reads the backbone only
                  **uniformerv2_b16),
    cls_head=dict(num_classes=num_classes, in_channels=768, num_heads=12, hidden=2048, mlp_ratio=4.0,
                  dropout_ratio=0.5, label_smooth_eps=0.1),
    feature_grid=(num_frames, 14, 14),
    text=dict(provider="openai", provider_options=dict(model="gpt-4-vision-preview"), max_height=224,
              encoder=dict(arch="ViT-B-16", weights="openai-vit-b-16")),
    text_dim=512,
    num_frames=num_frames,
    stage1_epochs=stage1_epochs,
    blending=dict(num_classes=num_classes, alpha=0.8),
    feature_cache=False,  # random crops make every training view new: nothing to share
    # appendix A.2: stage 1 once on Kinetics-710 (the K400/K600/K700 union), shared by every target domain
    stage1=dict(mode="shared", dataset="k710", split="train"),
)

# Tables A2/A3: MultiScaleCrop; flip in stage 2 (one pipeline serves both stages here).
train_pipeline = pipelines.train(num_frames, img_size, pipelines.multiscale_crop(img_size), meta_keys=pipelines.VIDEO_META_KEYS)
test_pipeline = pipelines.test(num_frames, img_size, meta_keys=pipelines.VIDEO_META_KEYS)
# Tables A2/A3: global batch 512 in stage 1, 128 in stage 2, reached as per_gpu x GPUs x accumulation steps
# (MMEngine's accumulative_counts, set per run by methods/ftp/batch.py); the learning rates below are the
# paper's at those batches, unscaled. One GPU: 64 (stage 1) and 16 (stage 2) steps of 8 clips per update.
batch = dict(stage1=512, stage2=128)
train_dataloader = dict(batch_size=8, num_workers=8, persistent_workers=True, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=4, num_workers=8, persistent_workers=True, dataset=dict(pipeline=test_pipeline))

train_cfg = dict(max_epochs=max_epochs)
# Protocol defaults (ftp's paper has no few-shot experiment): X-CLIP's few-shot repetition (the K-shot list itself,
# once per epoch; the epochs stay this config's two-stage schedule); test frames as UniFormerV2's MMAction2 configs
# sample them (UniformSample test mode).
protocol_defaults = dict(fewshot=dict(repeat="none"), views=dict(sampling="centre"))
# Table A2 (stage 1): AdamW lr 1e-5, betas 0.9/0.95, wd 0.05. Stage 2: lr 1.5e-6 (section 4.1; Table A3 lists
# 1e-5), betas 0.9/0.999, wd 0.05.
optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=1e-5, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(stage1=dict(lr=1e-5, betas=(0.9, 0.95)), stage2=dict(lr=1.5e-6, betas=(0.9, 0.999))),
)
custom_hooks = [dict(type="FTPStageHook", warmup_epochs=(5, 5), cpu_threads=None)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_last=True),
                     logger=dict(interval=100))
env_cfg = dict(cudnn_benchmark=False)

# GPU training path (issue 22; docs/DECISIONS.md "GPU training path (issue 22)"): bf16 autocast through MMEngine's
# AmpOptimWrapper (the test loop stays fp32), loader workers kept across epochs, pinned host memory; the SLURM
# profile's cpus_per_task covers the workers plus the main process. `compile = True` compiles the train step
# with torch.compile through MMEngine's Runner.
optim_wrapper.update(type="AmpOptimWrapper", dtype="bfloat16")
train_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
test_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
compile = False
# DDP: stage 1 trains the processors and aligners and leaves the integration layers and head without a gradient,
# stage 2 the reverse, so DDP must look for unused parameters (one autograd-graph walk per step; nothing else
# keeps the ranks' gradients correct: a zero-weighted loss term would advance AdamW's step counts of the idle group)
model_wrapper_cfg = dict(type="MMDistributedDataParallel", find_unused_parameters=True)
