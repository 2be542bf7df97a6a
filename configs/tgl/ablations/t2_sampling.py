# Tab. 2 row 2 (58.0): moment-aware sampling only: no OSS, no MDP (no MFE, memory from
# every frame), in the paper's order (M+ frames first, then propagation to M-).
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('train_dataloader.dataset.oss',
             'model.head.mfe',
             'model.head.memory_from'))

train_dataloader = dict(dataset=dict(oss=False))
model = dict(head=dict(mfe=False, memory_from='all'))
