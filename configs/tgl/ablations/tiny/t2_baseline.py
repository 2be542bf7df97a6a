# Tab. 2 row 1 (56.8 in the paper): the baseline as SAMWISE runs it: random frame sampling,
# no OSS, no MDP: every frame takes the adapter path with the sentence (no MFE), every frame
# writes memory, frames processed in temporal order (SAM2's causal propagation).
# Tested with every frame as M+ (--grounding none).
# Tiny counterpart of configs/tgl/ablations/t2_baseline.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_baseline',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('train_dataloader.dataset.frame_sampling.mplus_ratio',
             'train_dataloader.dataset.oss',
             'model.head.mfe',
             'model.head.memory_from',
             'model.head.order'))

# mplus_ratio=0: uniform random frames (the draws of RandomFrameSampler)
train_dataloader = dict(dataset=dict(frame_sampling=dict(mplus_ratio=0.0), oss=False))
model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
