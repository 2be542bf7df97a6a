# Ref-YouTube-VOS (the paper evaluates zero-shot on its 202-video valid split; predictions are
# scored by the challenge server, see docs/evaluation.md). Layout under data/ref-youtube-vos:
#   meta_expressions/{train,valid,test}/meta_expressions.json
#   {train,valid}/JPEGImages/<video>/<frame>.jpg, train/Annotations/<video>/<frame>.png
dataset_type = 'RefYouTubeVOSDataset'
data_root = 'data/ref-youtube-vos'
img_size = 1024
num_frames = 8

train_pipeline = [
    dict(type='RandomFrameSampler', num_frames=num_frames),   # no moments for Ref-YTVOS
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision', enabled=True),
    dict(type='VideoResizePad', size=img_size),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoColorJitter', prob=0.8),
    dict(type='PackVideoInputs'),
]
test_pipeline = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=img_size, resize_masks=False),
    dict(type='PackVideoInputs'),
]

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='valid', test_mode=True,
                 pipeline=test_pipeline))
val_dataloader = test_dataloader
# valid has no masks: write predictions for the challenge server (pack them with
# tools/submission/pack_ref_ytvos.py); `tools/test.py --out DIR` chooses another folder
test_evaluator = dict(type='RVOSMetric', format_only=True,
                      output_dir='work_dirs/ref_ytvos_valid_predictions')
val_evaluator = test_evaluator
