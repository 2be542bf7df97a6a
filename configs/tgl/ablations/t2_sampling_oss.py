# Tab. 2 row 4 (58.3): moment-aware sampling + OSS, no MDP. Also Tab. 3 row 1 (58.0,
# "neither"): no MFE, memory from every frame, in the paper's order (M+ first).
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling_oss',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('model.head.mfe',
             'model.head.memory_from'))

model = dict(head=dict(mfe=False, memory_from='all'))
