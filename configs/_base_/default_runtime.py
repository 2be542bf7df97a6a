# Runtime defaults shared by every tgl_mm config (hooks, environment, logging, visualisation).
# Iteration-based configs set `default_hooks.checkpoint.by_epoch=False` and
# `log_processor.by_epoch=False` next to their schedule (see configs/_base_/schedules/).
default_scope = 'tgl_mm'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # crash-safe saving: temp file + rename, last_checkpoint written after the file is complete
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # `tools/test.py --show-dir DIR` turns drawing on
    visualization=dict(type='RVOSVisualizationHook', draw=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; on machines without CUDA tgl_mm starts a gloo group and this is not used
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='RVOSLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'

# a fixed default seed (python, numpy, torch; mmengine logs it under "Runtime environment");
# `tools/train.py --seed N [--deterministic]` overrides it
randomness = dict(seed=0, deterministic=False)

load_from = None  # initialise from this checkpoint (weights only)
# refuse a checkpoint that does not fit the model (`--non-strict` sets False: load what matches)
load_strict = True
resume = False  # `tools/train.py --resume [PATH]`
