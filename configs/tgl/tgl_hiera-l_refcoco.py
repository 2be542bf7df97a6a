# RefCOCO/+/g image pretraining of the Hiera-L model (paper A.3: 6 epochs).
_base_ = ['./tgl_hiera-b_refcoco.py']

sam2_arch = 'sam2_hiera_l'
sam2_checkpoint = 'checkpoints/sam2_hiera_large.pt'

model = dict(
    image_backbone=dict(arch=sam2_arch, checkpoint=sam2_checkpoint),
    neck=dict(vision_dims=(288, 576, 1152)),
    head=dict(arch=sam2_arch, checkpoint=sam2_checkpoint))
