# Zero-shot Ref-DAVIS17 (paper Tab. 5; 30 valid videos, scored with tools/eval_ref_davis17.py on
# the written predictions): test the MeViS-M model (configs/tgl/tgl_hiera-b_mevis-m.py) without
# moments, the whole video as M+ (test only: Ref-DAVIS17 has no training set here):
#   tools/test.py configs/tgl/tgl_hiera-b_ref-davis17_zeroshot.py work_dirs/tgl_hiera-b_mevis-m/epoch_1.pth
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/ref_davis17.py',
    '../_base_/default_runtime.py',
]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
model = dict(test_cfg=dict(grounding=dict(type='none')))
