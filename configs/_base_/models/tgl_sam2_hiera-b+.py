# TGL on SAM2 Hiera-B+ with RoBERTa-base (paper §4, A.3; the SAMWISE base model).
# Weights are read from local files only (nothing is downloaded at run time):
#   sam2_checkpoint: the official SAM2 .pt (SAMWISE and TGL build on SAM2 Hiera-B+; SAM2.1 files
#                    load too with arch='sam2.1_hiera_b+'), see docs/model_sam2.md
#   text_model_dir:  a local Hugging Face RoBERTa-base directory (config, weights, tokenizer)
sam2_arch = 'sam2_hiera_b+'
sam2_checkpoint = 'checkpoints/sam2_hiera_base_plus.pt'
text_model_dir = 'checkpoints/roberta-base'
model_img_size = 1024

model = dict(
    type='TGLSAM2',
    data_preprocessor=dict(type='VideoDataPreprocessor'),
    # frozen SAM2 image encoder (Hiera + FPN), run stage by stage
    image_backbone=dict(type='SAM2ImageEncoder', arch=sam2_arch, image_size=model_img_size,
                        checkpoint=sam2_checkpoint),
    # frozen text encoder, run layer by layer in lockstep with the image encoder
    text_backbone=dict(type='HFTextEncoder', model_dir=text_model_dir, max_length=64),
    # Eq. 1: adapters after Hiera stages 2-4 (0-based 1-3) and RoBERTa layers 4, 8, 12, with
    # their temporal half on: Hierarchical Selective Attention with patch sizes 8 / 4 / 2 for the
    # three adapted stages, following SAMWISE's MeViS (and Ref-YouTube-VOS) recipe (`--HSA`,
    # `--HSA_patch_size 8 4 2`); its RefCOCO pretraining runs without it (tgl_hiera-b_refcoco.py)
    neck=dict(type='CrossModalAdapter', vision_dims=(224, 448, 896), text_dim=768,
              adapter_stages=(1, 2, 3), text_layer_ends=(1, 4, 8, 12), dim=256, num_heads=8,
              hsa=dict(patch_sizes=(8, 4, 2))),
    # Eq. 2: rho = MLP(concat(E_cls, E_motion))
    prompt=dict(type='TextPrompt', text_dim=768, prompt_dim=256, hidden_dim=256),
    # Eq. 3-5: MDP; only M+ frames write memory, 6 nearest memories
    head=dict(type='MDPHead', arch=sam2_arch, image_size=model_img_size, memory_from='mplus',
              order='mplus_first', mfe=True, checkpoint=sam2_checkpoint),
    # Eq. 7: focal + Dice (1:1) on OSS targets, plus SAM2's object-score loss
    loss=dict(type='OSSLoss', focal_weight=1.0, dice_weight=1.0, object_score_weight=1.0),
    tam=None,
    test_cfg=dict(grounding=dict(type='oracle'), chunk_size=8, mask_threshold=0.0),
)
