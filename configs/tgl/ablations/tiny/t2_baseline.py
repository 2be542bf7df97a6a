# Tiny counterpart of configs/tgl/ablations/t2_baseline.py (Tab. 2 row 1) on configs/tgl/tgl_tiny_synthetic.py:
# random sampling, no MDP (every frame on the adapter path with the prompt, memory from all
# frames, causal order), no OSS. Tested with every frame as M+ (--grounding none).
_base_ = ['../../tgl_tiny_synthetic.py']

train_pipeline = [
    dict(type='RandomFrameSampler', num_frames=4),
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
