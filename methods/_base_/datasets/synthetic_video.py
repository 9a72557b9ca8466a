# The synthetic world's video pipelines and loaders (what the `<method>_tiny.py` configs train and test on):
# 64x64 frames, `num_frames` sampled uniformly, a random resized crop in training, a centre crop in testing.
# No horizontal flip: the synthetic world has left/right motion classes that a flip would swap.
# A method config lists it in `_base_` after `../../_base_/default_runtime.py`. One that packs other meta keys,
# or samples another number of frames, sets its own `train_pipeline` / `test_pipeline` and points the loaders at
# them (`train_dataloader = dict(dataset=dict(pipeline=train_pipeline))`; MMEngine merges dicts key by key and
# replaces lists whole). The annotation lists are set by the protocols.
num_frames = 8
img_size = 64

train_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=num_frames, num_clips=1),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="RandomResizedCrop", area_range=(0.7, 1.0)),
    dict(type="Resize", scale=(img_size, img_size), keep_ratio=False),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="DecordInit", io_backend="disk"),
    dict(type="UniformSample", clip_len=num_frames, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, img_size)),
    dict(type="CenterCrop", crop_size=img_size),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = test_pipeline

# `dataset_type` (CheckedVideoDataset) is the runtime base's; bases may not both define a key.
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type="CheckedVideoDataset", ann_file="", data_prefix=dict(video=""), pipeline=train_pipeline),
)
test_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type="CheckedVideoDataset", ann_file="", data_prefix=dict(video=""), pipeline=test_pipeline,
                 test_mode=True),
)
