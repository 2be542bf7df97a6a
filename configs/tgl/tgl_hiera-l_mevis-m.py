# TGL, Hiera-L / RoBERTa-base on MeViS-M: as the Hiera-B+ config with 6-frame clips (paper A.3).
_base_ = ['./tgl_hiera-b_mevis-m.py']

sam2_arch = 'sam2_hiera_l'
sam2_checkpoint = 'checkpoints/sam2_hiera_large.pt'
num_frames = 6

model = dict(
    image_backbone=dict(arch=sam2_arch, checkpoint=sam2_checkpoint),
    neck=dict(vision_dims=(288, 576, 1152)),
    head=dict(arch=sam2_arch, checkpoint=sam2_checkpoint))

train_dataloader = dict(dataset=dict(frame_sampling=dict(num_frames=num_frames)))
load_from = 'work_dirs/tgl_hiera-l_refcoco/epoch_6.pth'
