# Tab. 2 row 3 (59.4): moment-aware sampling + MDP (no OSS).
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

train_pipeline = [
    dict(type='MomentAwareFrameSampler', num_frames=8, mplus_ratio=0.5),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision', enabled=False),
    dict(type='VideoResizePad', size=1024),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoColorJitter', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
         prob=0.8),
    dict(type='PackVideoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
