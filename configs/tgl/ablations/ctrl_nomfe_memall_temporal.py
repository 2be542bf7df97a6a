# Order control (not in the paper): t2_sampling_oss (no MFE, memory from every frame) with
# the frames processed in temporal order instead of M+ first; measures the order alone.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='ctrl_nomfe_memall_temporal',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('model.head.mfe',
             'model.head.memory_from',
             'model.head.order'))

model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
