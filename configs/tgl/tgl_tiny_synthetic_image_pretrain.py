# Referring-image pretraining of the tiny TGL model: the paper's RefCOCO step (A.3: SAMWISE and
# TGL pretrain on RefCOCO/+/g before MeViS-M) on the synthetic referring-image split, the RefCOCO
# stand-in that tools/data/make_synthetic_mevis_m.py writes into <data>/image_refer/ (refer-toolkit
# layout, read by RefCOCODataset): single frames of the train videos with sentences that name the
# objects each frame shows by their look (colour and shape, count, size; the generator's default
# --image-sentences look, docs/datasets.md), built from the rendered objects -- not from
# the video expressions, their moments or families, which this stage never reads. Each image is a
# one-frame pseudo-clip, all M+; validation on the split's `val` refs (frames of valid_u videos).
# Starts from the stage-0 tiny SAM2 like the tiny config; the trained adapter, prompt and head are
# exported as a parts checkpoint that configs/tgl/tgl_tiny_synthetic.py starts from
# (docs/tiny_recipe.md, docs/model_sam2.md "Stages of the tiny model"):
#   python tools/data/make_synthetic_mevis_m.py --out-dir data/synthetic_mevis_m
#   python tools/train.py configs/tgl/tgl_tiny_synthetic_image_pretrain.py
#   python tools/export_parts.py work_dirs/tgl_tiny_synthetic_image_pretrain/iter_3000.pth \
#       checkpoints/tiny_tgl_image_pretrain_synthetic.pt
# The data root is the generated tree's, as for the video splits: another tree is
#   --cfg-options train_dataloader.dataset.data_root=<data> val_dataloader.dataset.data_root=<data>
_base_ = ['./tgl_tiny_synthetic.py']

# the RefCOCO dataset class on the synthetic split (refer-toolkit files in image_refer/refcoco,
# images in image_refer/images); the base's MeViS keys that do not apply are unset (a still
# image is all M+: no moment file)
image_dataset = dict(type='RefCOCODataset', data_root='data/synthetic_mevis_m', dataset='refcoco',
                     ann_dir='image_refer/refcoco', img_prefix='image_refer/images',
                     moment_file=None)

model = dict(pretrained=None)   # this stage makes the parts the tiny config starts from

# single-frame pseudo-clips (the base pipeline with these frame-sampler settings)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(**image_dataset, split='train',
                 frame_sampling=dict(num_frames=1, mplus_ratio=1.0)))
val_dataloader = dict(dataset=dict(**image_dataset, split='val'))
test_dataloader = val_dataloader

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
