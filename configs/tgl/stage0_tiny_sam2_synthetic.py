# Stage 0: pretrain the tiny SAM2 for class-agnostic, mask-prompted tracking on synthetic videos
# (no text), as SAM2 is trained; TGL then starts from it with the image encoder frozen, as the
# paper starts from SAM2's SA-V weights (configs/tgl/tgl_tiny_synthetic.py). Clips are rendered
# in memory (SyntheticTrackingDataset); validation tracks every object of synthetic valid_u from
# its first visible frame (TrackingMetric, J&F after the prompt frame, beside copying the prompt).
#   python tools/train.py configs/tgl/stage0_tiny_sam2_synthetic.py
#   python tools/export_sam2.py work_dirs/stage0_tiny_sam2_synthetic/iter_2000.pth \
#       checkpoints/tiny_sam2_stage0_synthetic.pt
# (seed 0, 2000 iterations, ~25 min on one CPU core; the shipped file was made so: valid_u
# tracking J&F 88.3 at 1000 iterations, 94.7 at 2000, copying the prompt mask 34.6)
_base_ = ['../_base_/default_runtime.py']

img_size = 128
data_root = 'data/synthetic_mevis_m'

model = dict(
    type='SAM2Pretrainer',
    image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=img_size,
                        checkpoint=None, frozen=False),
    # SAM2's propagation: every frame writes memory, causal order, every part trains
    head=dict(type='MDPHead', arch='tiny', image_size=img_size, memory_from='all',
              order='temporal', frozen_parts=()),
    loss=dict(type='OSSLoss'),
    correspondence_loss=dict(type='MemoryCorrespondenceLoss', loss_weight=1.0))

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),   # items are random already
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='SyntheticTrackingDataset', size=img_size, num_frames=4, seed=0))

test_pipeline = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=img_size, resize_masks=False),
    dict(type='PackVideoInputs'),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='MeViSObjectTracks', data_root=data_root, split='valid_u',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TrackingMetric')
test_evaluator = val_evaluator

max_iters = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000),
                     logger=dict(interval=50),
                     visualization=dict(type='RVOSVisualizationHook', draw=False))
log_processor = dict(by_epoch=False)
