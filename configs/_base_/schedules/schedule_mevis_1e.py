# MeViS / MeViS-M fine-tuning (paper A.3): 1 epoch, Adam, lr 1e-5 (constant), gradient clipping
# at 1.0, total batch size 4 (1 clip per GPU on 4 GPUs).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-5, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the batch size the lr was tuned for; enable to scale lr linearly with another batch size
auto_scale_lr = dict(enable=False, base_batch_size=4)
