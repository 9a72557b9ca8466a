# The synthetic world's video pipelines and loaders (what the `<method>_tiny.py` configs train and test on):
# 64x64 frames, `num_frames` sampled uniformly, a random resized crop in training, a centre crop in testing.
# No horizontal flip: the synthetic world has left/right motion classes that a flip would swap.
# A method config lists it in `_base_` after `../../_base_/default_runtime.py`. One that packs other meta keys,
# or samples another number of frames, sets its own `train_pipeline` / `test_pipeline` and points the loaders at
# them (`train_dataloader = dict(dataset=dict(pipeline=train_pipeline))`; MMEngine merges dicts key by key and
# replaces lists whole). The annotation lists are set by the protocols.
_base_ = []  # none; an empty list keeps MMEngine reading this file as a plain (not lazy-import) config
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

num_frames = 8
img_size = 64

train_pipeline = pipelines.train(num_frames, img_size, pipelines.random_resized_crop((0.7, 1.0)), short_side=img_size,
                                 flip=None)
test_pipeline = pipelines.test(num_frames, img_size)
val_pipeline = test_pipeline

# `dataset_type` (CheckedVideoDataset) is the runtime base's; bases may not both define a key.
train_dataloader = pipelines.loader(train_pipeline, batch_size=8, num_workers=1, shuffle=True)
test_dataloader = pipelines.loader(test_pipeline, batch_size=8, num_workers=1, shuffle=False, test_mode=True)
