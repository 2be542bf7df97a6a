# Tiny counterpart of configs/tgl/ablations/t3_mfe_memall.py (Tab. 3 row 3): MFE, memory from every frame (causal order).
_base_ = ['../../tgl_tiny_synthetic.py']

model = dict(head=dict(memory_from='all', order='temporal'))
