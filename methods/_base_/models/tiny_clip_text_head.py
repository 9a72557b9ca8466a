# The synthetic world's tiny CLIP (64x64, patch 8) as a CLIP-based recognizer's text side: its class-name templates,
# the text head that scores a video embedding against the prompted class names (the protocol sets the class names;
# `syn_k400` lets init_recognizer work alone) and CLIP's pixel normalisation. What clip_meanpool_tiny and alt_tiny
# share: each sets `model = dict(type=..., backbone=...)` and MMEngine merges the model dict key by key. A real-size
# config that inherits them sets clip_arch / clip_weights / templates and the head's fields it changes.
_base_ = []  # none; an empty list keeps MMEngine reading this file as a plain (not lazy-import) config
from methods import pipelines  # noqa: E402 (after _base_: methods/pipelines.py)

clip_arch = "vlbench-tiny-vit"
clip_weights = "synthetic:tiny-clip"  # a local file path or a tag; None = random init (logged)
templates = ["a video of {}.", "a photo of {}.", "{}"]

model = dict(
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
    data_preprocessor=pipelines.clip_data_preprocessor(),
)
