# Tab. 2 row 4 (58.3): moment-aware sampling + OSS, no MDP. Also Tab. 3 row 1 (58.0,
# "neither"): no MFE, memory from every frame, in the paper's order (M+ first).
# Tiny counterpart of configs/tgl/ablations/t2_sampling_oss.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling_oss',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('model.head.mfe',
             'model.head.memory_from'))

model = dict(head=dict(mfe=False, memory_from='all'))
