# bike, CLIP ViT-B/16, 8x224, built from BIKE's released Kinetics-400 model (README K400 table: 84.0 top-1 at 4x3
# views; github release v1.0 asset k400-vit-b-16-f8.pt, config configs/k400/k400_train_rgb_vitb-16-f8.yaml),
# so that its numbers (supervised K400, zero-shot on other label sets) come from evaluation alone, without training:
# run the zeroshot protocol without train_dataset / init_from, or supervised with epochs 0.
# The file's model_state_dict is the fine-tuned CLIP (visual tower -> backbone.visual, text tower -> the category
# encoder; OpenAI names, so QuickGELU), its fusion_model_state_dict the 6-layer temporal transformer with frame
# positions (BIKE's video_header 'Transf': QuickGELU, LayerNorm eps 1e-12). The attributes branch is off: its
# weights were not released (only its scores), so this is the Video branch of BIKE's test.py.
_base_ = ["./bike_vit-b16_8x224_k400.py"]

clip_weights = "bike-vit-b16-k400"
model = dict(
    backbone=dict(clip_weights=clip_weights, temporal_layers=6, temporal_weights=clip_weights),
    cls_head=dict(clip_weights=clip_weights, train_branches=["video"],
                  attributes=dict(enabled=False, encoder=dict(clip_weights=None), teacher=dict(clip_weights=None))),
)
