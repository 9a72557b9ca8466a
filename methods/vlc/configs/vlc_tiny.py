# vlc, tiny size: the synthetic world's tiny video ViT (16x64x64, tubelet 2, patch 16 -> 8x4x4 tokens, width 96)
# as the video pre-trained model, its tiny CLIP (64x64, patch 8 -> 8x8 grid, width 64) as the VLM, the offline
# oracle LLM for the description bank. Class names and annotation lists are set by the protocol; the defaults
# let `mmaction.apis.init_recognizer(config)` work on its own (the synthetic K400-like classes).
_base_ = ["../../_base_/default_runtime.py", "../../_base_/models/vlc.py", "../../_base_/datasets/synthetic_video.py",
          "../../_base_/schedules/tiny_cpu.py"]
from methods import pipelines, schedules  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 16
img_size = 64
clip_arch = "vlbench-tiny-vit"
clip_weights = "synthetic:tiny-clip"

model = dict(
    backbone=dict(type="VLCVideoEncoder", arch="tiny", num_frames=num_frames, img_size=img_size, patch_size=16,
                  tubelet_size=2, embed_dims=96, depth=4, num_heads=4, mlp_ratio=2.0,
                  video_weights="synthetic:tiny-video"),
    cls_head=dict(
        num_classes=8,
        in_channels=96,
        class_names=dict(dataset="syn_k400"),
        text=dict(source="auto", datasets=["syn_k400", "syn_k600", "syn_ucf", "syn_hmdb"], provider="offline",
                  provider_options={}, artefact_tag=None, need_options={}, num_descriptions=None,
                  long_description=True, name_template="{}"),
        num_negatives=16,  # the tiny banks: 5-8 classes x 6 texts (syn_hmdb: at most 18 negatives)
    ),
    clip=dict(clip_arch=clip_arch, clip_weights=clip_weights),
    gate=dict(type="self_attention", num_heads=1, mlp_ratio=4.0, thr1=0.5, thr2=0.2, mask_norm="all", sigma=5.0,
              keyword_text="naclip"),  # cross-attention keywords: NACLIP's 80-template average; "bare": the word alone
    # The tiny video ViT was pre-trained on pixels / 255 (no mean subtraction).
    data_preprocessor=dict(type="ActionDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0],
                           format_shape="NCTHW"),
)

meta_keys = ("img_shape", "img_key", "video_id", "timestamp", "filename", "frame_inds", "crop_bbox", "clip_len")
# No horizontal flip: the synthetic world has left/right motion classes that a flip would swap.
train_pipeline = pipelines.train(num_frames, img_size, pipelines.random_resized_crop((0.7, 1.0)), short_side=img_size,
                                 flip=None, meta_keys=meta_keys)
test_pipeline = pipelines.test(num_frames, img_size, meta_keys=meta_keys)
val_pipeline = test_pipeline

# Loaders: methods/_base_/datasets/synthetic_video.py, with this config's pipelines.
train_dataloader, test_dataloader = pipelines.point_loaders(train_pipeline, test_pipeline)

# Table 7's recipe (AdamW, weight decay 0.05, warm-up then cosine), scaled to the tiny world: more epochs
# per video, a larger learning rate for the from-scratch heads.
max_epochs = 8
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs)  # the rest: methods/_base_/schedules/tiny_cpu.py
optim_wrapper = dict(
    optimizer=dict(betas=(0.9, 0.999)),
    paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.5)}),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = schedules.warmup_cosine(max_epochs, warmup_epochs, start_factor=0.1, eta_min=1e-6)

