# Tab. 3 row 3 (60.3): MFE (dual path), memory written by every frame, in the paper's
# order (M+ first).
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t3_mfe_memall',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('model.head.memory_from',))

model = dict(head=dict(memory_from='all'))
