# vlc, UMT-B/16, 8x224, UCF-101 (the ablations of section 4.3).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). Video model: UMT-B/16 (Li et al. 2023a), tubelet 1 (one token map per frame), sparse frame sampling as UMT.
# VLM: CLIP ViT-L/14 (CLIP-400M) as frozen image teacher and text encoder. Weights are local files or tags mapped
# under `weights:` in the user config (nothing is downloaded); the description bank comes from
# `bench text build --method vlc --dataset <dataset>` (section 3.3.1). Class names and lists are set by the protocol.
# The shared base of the real sizes: the other vlc_*-b16 configs inherit this file and state what differs.
_base_ = ["../../_base_/default_runtime.py", "../../_base_/models/vlc.py"]
from methods import pipelines, schedules  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 8
img_size = 224
clip_arch = "ViT-L-14"
clip_weights = "openai-vit-l-14"  # tag or path of OpenAI's CLIP-400M ViT-L/14 (ViT-L-14.pt)

model = dict(
    backbone=dict(type="VLCVideoEncoder", arch="vit", num_frames=num_frames, img_size=img_size, patch_size=16,
                  tubelet_size=1, embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.0, drop_path_rate=0.1,
                  video_weights="umt-b16-ptk710-f8-res224",  # UMT's K710 pre-training file (b16_ptk710_f8_res224)
                  # Parts of released files that are not the encoder: UMT's CLIP decoders, VideoMAE's decoder,
                  # a fine-tuned file's classifier. The record lists what was dropped; anything else must fit.
                  weights_ignore=("clip_decoder.*", "decoder.*", "encoder_to_decoder.*", "mask_token", "head.*")),
    cls_head=dict(
        num_classes=101,
        in_channels=768,
        class_names="ucf101.csv",
        text=dict(source="auto", datasets=["ucf101", "k400", "k600", "ucf101", "hmdb51"], provider="offline",
                  provider_options={}, artefact_tag=None, need_options={}, num_descriptions=None,
                  long_description=True, name_template="{}"),
        num_negatives=1200,  # section 4: 3500 negatives on K400, 1200 on UCF-101
    ),
    clip=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    gate=dict(type="self_attention", num_heads=1, mlp_ratio=4.0, thr1=0.5, thr2=0.2, mask_norm="all", sigma=5.0),
    data_preprocessor=dict(type="ActionDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           format_shape="NCTHW"),
)

meta_keys = ("img_shape", "img_key", "video_id", "timestamp", "filename", "frame_inds", "crop_bbox", "flip", "clip_len")
# UMT's augmentation (methods/vlc/recipe.py, README "Recipe against UMT"): RandAugment on the decoded frames (the same
# ops on every frame), random resized crop (area 0.08-1, ratio 3/4-4/3) + flip, random erasing p 0.25 with per-pixel
# normal noise (UMT's pixel mode) in one box for all frames. Steps 0-2 must stay DecordInit, sampler, DecordDecode
# (the repeated-augmentation dataset decodes once and runs the rest twice).
train_pipeline = pipelines.train(
    num_frames, img_size, pipelines.random_resized_crop(),
    before=[dict(type="ClipRandAugment", config_str="rand-m7-n4-mstd0.5-inc1", translate_const=int(img_size * 0.45),
                 interpolation="bicubic")],
    after=[dict(type="RandomErasing", erase_prob=0.25, mode="rand", fill_color=[123.675, 116.28, 103.53],
                fill_std=[58.395, 57.12, 57.375])],
    meta_keys=meta_keys)
test_pipeline = pipelines.test(num_frames, img_size, meta_keys=meta_keys)
val_pipeline = test_pipeline
# Protocol defaults (vlc's paper is silent on few-shot; its zero-shot follows X-CLIP): X-CLIP's few-shot (the K-shot
# list itself, 50 epochs); test frames as UMT's MMAction2 config samples them (UniformSample test mode).
protocol_defaults = dict(fewshot=dict(repeat="none", epochs=50), views=dict(sampling="centre"))

dataset_type = "CheckedVideoDataset"
# UMT's repeated augmentation (--num_sample 2): each video is decoded once and gives two augmented clips, so a batch
# of 8 videos holds 16 clips.
train_dataloader = pipelines.loader(train_pipeline, batch_size=8, num_workers=8, shuffle=True,
                                    dataset_type="CheckedRepeatAugDataset",
                                    dataset_fields=dict(num_repeats=2, sample_once=True),
                                    collate_fn=dict(type="repeat_pseudo_collate"))
test_dataloader = pipelines.loader(test_pipeline, batch_size=4, num_workers=8, shuffle=False, test_mode=True,
                                   dataset_type=dataset_type)

# UCF-101 schedule: Table 7 was lost in extraction; UMT's recipe scaled to the small dataset (README: choices): AdamW, lr 1.5e-4, weight decay 0.05, 30 epochs with 3 of warm-up.
max_epochs = 30
warmup_epochs = 3
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=1000)
optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=1.5e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    # UMT's layer-wise lr decay 0.75 over the 12 blocks; no weight decay on 1-D parameters, biases, pos/cls tokens
    constructor="VLCLayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay=0.75, num_layers=12),
    clip_grad=None,  # UMT (run_class_finetuning.py, --clip_grad None) does not clip
)
param_scheduler = schedules.warmup_cosine(max_epochs, warmup_epochs, start_factor=1e-3, eta_min=1e-6)
auto_scale_lr = dict(enable=False, base_batch_size=56)

# Only what differs from the runtime base (MMEngine merges the rest).
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50, ignore_last=False),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=2, save_last=True),
)

# GPU training path (issue 22; docs/DECISIONS.md "GPU training path (issue 22)"): bf16 autocast through MMEngine's
# AmpOptimWrapper (the test loop stays fp32), loader workers kept across epochs, pinned host memory; the SLURM
# profile's cpus_per_task covers the workers plus the main process. `compile = True` compiles the train step
# with torch.compile through MMEngine's Runner.
optim_wrapper.update(type="AmpOptimWrapper", dtype="bfloat16")
train_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
test_dataloader.update(num_workers=8, persistent_workers=True, pin_memory=True)
compile = False
