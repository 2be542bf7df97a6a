# Order control (not in the paper): the full model with the frames processed in temporal
# order (SAM2's causal pass) instead of M+ first (§4.2); measures the order alone.
# Tiny counterpart of configs/tgl/ablations/ctrl_tgl_temporal.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='ctrl_tgl_temporal',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('model.head.order',))

model = dict(head=dict(order='temporal'))
