# The synthetic world's CPU schedule: 6 epochs of AdamW (gradients clipped at norm 1), one warm-up epoch rising
# linearly from 0.1 x lr, then cosine to 0 (per iteration). A method config lists it in `_base_` and sets what
# differs: the optimiser's fields and its paramwise_cfg (MMEngine merges dicts key by key), `train_cfg =
# dict(max_epochs=max_epochs)` and its own `param_scheduler` (a list, replaced whole) for another length.
# It defines no variables: every name here is a field the configs that inherit it already have.
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=6, val_interval=1000)
optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=5, eta_min=0, by_epoch=True, begin=1, end=6, convert_to_iter_based=True),
]
