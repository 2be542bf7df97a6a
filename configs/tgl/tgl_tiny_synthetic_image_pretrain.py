# Referring-image pretraining of the tiny TGL model: the paper's RefCOCO step (A.3: SAMWISE and
# TGL pretrain on RefCOCO/+/g before MeViS-M) on synthetic frames. Single-frame pseudo-clips of
# the synthetic train split's `appearance` and `event` expressions, drawn from their moments
# (where the referred object looks as the sentence says; `motion` cannot be seen in one frame),
# every frame in M+. Starts from the stage-0 tiny SAM2 like the tiny config; the trained
# adapter, prompt and head are exported as a parts checkpoint that configs/tgl/tgl_tiny_synthetic.py
# starts from (docs/model_sam2.md, "Stages of the tiny model"):
#   python tools/train.py configs/tgl/tgl_tiny_synthetic_image_pretrain.py
#   python tools/export_parts.py work_dirs/tgl_tiny_synthetic_image_pretrain/iter_3000.pth \
#       checkpoints/tiny_tgl_image_pretrain_synthetic.pt
_base_ = ['./tgl_tiny_synthetic.py']

model = dict(pretrained=None)   # this stage makes the parts the tiny config starts from

# single-frame pseudo-clips drawn from M+ (the base pipeline with these frame-sampler settings)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(families=('appearance', 'event'),
                 frame_sampling=dict(num_frames=1, mplus_ratio=1.0)))

# single frames read and write no memory: the memory modules get no gradient (DDP must know)
find_unused_parameters = True

max_iters = 3000
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=1000), logger=dict(interval=50))
