# Tiny iteration-based schedule for the CPU demo and smoke tests: 60 iterations, Adam 1e-4 with a
# 10-iteration linear warm-up, gradient clipping at 1.0, validation at the end.
# fused Adam and foreach clipping: the same update in fewer, larger kernels (the tiny model's
# step is dominated by per-tensor overhead; benchmarks/bench_train_step.py).
# The leaf config also sets default_hooks.checkpoint.by_epoch=False and log_processor.by_epoch=False.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=0.0, fused=True),
    clip_grad=dict(max_norm=1.0, norm_type=2, foreach=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60, val_interval=60)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
