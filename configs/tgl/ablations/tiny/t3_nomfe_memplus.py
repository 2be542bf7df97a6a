# Tab. 3 row 2 (58.9): no moment-aware feature extraction (every frame takes the adapter
# path and the sentence), memory written by M+ frames only, M+ first.
# Tiny counterpart of configs/tgl/ablations/t3_nomfe_memplus.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t3_nomfe_memplus',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('model.head.mfe',))

model = dict(head=dict(mfe=False))
