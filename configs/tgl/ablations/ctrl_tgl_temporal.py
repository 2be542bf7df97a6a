# Order control (not in the paper): the full model with the frames processed in temporal
# order (SAM2's causal pass) instead of M+ first (§4.2); measures the order alone.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='ctrl_tgl_temporal',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('model.head.order',))

model = dict(head=dict(order='temporal'))
