# Tab. 2 row 2 (58.0): moment-aware sampling only: no OSS, no MDP (no MFE, memory from
# every frame), in the paper's order (M+ frames first, then propagation to M-).
# Tiny counterpart of configs/tgl/ablations/t2_sampling.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('train_dataloader.dataset.oss',
             'model.head.mfe',
             'model.head.memory_from'))

train_dataloader = dict(dataset=dict(oss=False))
model = dict(head=dict(mfe=False, memory_from='all'))
