# Tab. 3 row 3 (60.3): MFE (dual path), memory written by every frame, in the paper's
# order (M+ first).
# Tiny counterpart of configs/tgl/ablations/t3_mfe_memall.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t3_mfe_memall',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('model.head.memory_from',))

model = dict(head=dict(memory_from='all'))
