# Tiny counterpart of configs/tgl/ablations/t3_nomfe_memplus.py (Tab. 3 row 2): memory from M+ only, no MFE.
_base_ = ['../../tgl_tiny_synthetic.py']

model = dict(head=dict(mfe=False))
