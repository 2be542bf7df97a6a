# Tab. 3 row 3 (60.3): MFE (dual path), memory written by every frame (causal order).
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

model = dict(head=dict(memory_from='all', order='temporal'))
