# Tab. 3 row 2 (58.9): no moment-aware feature extraction (every frame takes F_Adp and the
# prompt), memory written by M+ frames only.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

model = dict(head=dict(mfe=False))
