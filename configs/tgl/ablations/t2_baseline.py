# Tab. 2 row 1 (56.8 in the paper): no moment-aware design at all: random frame sampling,
# no MDP (every frame on the adapter path with the prompt, memory from all frames, causal order),
# no OSS.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

train_pipeline = [
    dict(type='RandomFrameSampler', num_frames=8),
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
model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
