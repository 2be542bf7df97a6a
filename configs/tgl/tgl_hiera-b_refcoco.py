# RefCOCO/+/g image pretraining of the Hiera-B+ model (paper A.3: 6 epochs, as SAMWISE):
# single-frame pseudo-clips, every frame in M+, Adam lr 1e-4, total batch 32.
_base_ = [
    '../_base_/models/tgl_sam2_hiera-b+.py',
    '../_base_/datasets/refcoco.py',
    '../_base_/schedules/schedule_refcoco_6e.py',
    '../_base_/default_runtime.py',
]

# single-frame clips read and write no memory: the memory modules get no gradient, which DDP
# must be told about
find_unused_parameters = True

# no HSA: SAMWISE pretrains on RefCOCO/+/g without `--HSA` (single frames: nothing to attend
# across); the MeViS-M config switches it on and starts it at its identity initialisation
model = dict(neck=dict(hsa=None))
