# Tab. 2 row 4 (58.3): moment-aware sampling + OSS (no MDP).
# Also Tab. 3 row 1 (58.0): no MFE, memory from all frames.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
