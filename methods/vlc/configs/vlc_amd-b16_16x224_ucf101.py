# vlc, AMD ViT-B/16 (Zhao et al. 2024b), 16x224, UCF-101 (Table 2a).
# (../shared/papers/vlc_vision_language_collaboration.txt, section 4 and Table 7). Video model: AMD ViT-B/16 (the VideoMAE ViT-B architecture), tubelet 2, dense sampling (stride 4) as VideoMAE.
# The VideoMAE ViT-B/16 config with AMD's pre-trained weights.
_base_ = ["./vlc_videomae-b16_16x224_ucf101.py"]

model = dict(backbone=dict(video_weights="amd-b16-k400-pretrain"))
