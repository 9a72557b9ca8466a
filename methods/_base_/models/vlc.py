# What every vlc config's model shares (vlc_tiny and the real-size root vlc_umt-b16_8x224_ucf101; the others inherit
# the root): the recognizer and head types, the head's scoring fields (one positive description, temperature 0.07,
# zero-shot max over a class's descriptions, probability averaging over views), the three losses on with alpha 10,
# the teacher unscaled and uncached. Each config sets its video model, its head's classes, text bank and negatives,
# its CLIP, its gate and its data preprocessor; MMEngine merges the model dict key by key.
model = dict(
    type="VLCRecognizer",
    cls_head=dict(
        type="VLCHead",
        num_positives=1,
        num_negatives_scale=1.0,
        temperature=0.07,
        zs_reduce="max",
        test_scoring="auto",
        dropout_ratio=0.0,
        eager_bank=True,
        average_clips="prob",
    ),
    losses=dict(ce=True, text=True, image=True),
    alpha=10.0,
    teacher_image_size=None,
    teacher_cache=False,
)
