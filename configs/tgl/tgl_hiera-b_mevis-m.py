# TGL, Hiera-B+ / RoBERTa-base on MeViS-M (paper Tab. 1-3 main setting):
# 8-frame clips (half from M+), MDP, OSS; Adam lr 1e-5, total batch 4, 1 epoch; initialised from
# the RefCOCO/+/g pretraining (configs/tgl/tgl_hiera-b_refcoco.py).
#   tools/dist_train.sh configs/tgl/tgl_hiera-b_mevis-m.py 4
#   tools/test.py configs/tgl/tgl_hiera-b_mevis-m.py CKPT --grounding oracle
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/mevis_m.py',
    '../_base_/schedules/schedule_mevis_1e.py',
    '../_base_/default_runtime.py',
]
load_from = 'work_dirs/tgl_hiera-b_refcoco/epoch_6.pth'
# the adapter's HSA (on in the base model, as SAMWISE's MeViS recipe) is new here: the RefCOCO
# start was trained without it, so its weights may be missing and keep their identity start
load_allow_missing = ('neck.layers.0.hsa.', 'neck.layers.1.hsa.', 'neck.layers.2.hsa.')
