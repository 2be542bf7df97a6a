# Zero-shot Ref-YouTube-VOS (paper Tab. 5; 202 valid videos, predictions for the server): test
# the MeViS-M model (configs/tgl/tgl_hiera-b_mevis-m.py) without moments, the whole video as M+:
#   tools/test.py configs/tgl/tgl_hiera-b_ref-ytvos_zeroshot.py work_dirs/tgl_hiera-b_mevis-m/epoch_1.pth
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/ref_ytvos.py',
    '../_base_/schedules/schedule_mevis_1e.py',
    '../_base_/default_runtime.py',
]
model = dict(test_cfg=dict(grounding=dict(type='none')))
