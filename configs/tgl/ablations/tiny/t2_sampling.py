# Tiny counterpart of configs/tgl/ablations/t2_sampling.py (Tab. 2 row 2): moment-aware sampling only.
_base_ = ['../../tgl_tiny_synthetic.py']

train_pipeline = [
    dict(type='MomentAwareFrameSampler', num_frames=4, mplus_ratio=0.5),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision', enabled=False),
    dict(type='VideoResizePad', size=128),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoColorJitter', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
         prob=0.8),
    dict(type='PackVideoInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
