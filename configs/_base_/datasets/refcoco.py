# RefCOCO / RefCOCO+ / RefCOCOg pretraining (paper A.3: 6 epochs before MeViS-M), refer-toolkit
# layout under data/coco:
#   data/coco/{refcoco,refcoco+,refcocog}/refs(unc|umd).p + instances.json
#   data/coco/train2014/COCO_train2014_*.jpg
# Each image is a one-frame video; the sampler repeats it into a pseudo-clip of `num_frames`
# frames (1 = single frames, as SAMWISE pretrains). Every frame is in M+.
dataset_type = 'RefCOCODataset'
data_root = 'data/coco'
img_size = 1024
num_frames = 1

train_pipeline = [
    dict(type='RandomFrameSampler', num_frames=num_frames),
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
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ConcatDataset',
        ignore_keys=['dataset_name'],   # samples keep their own dataset_name
        datasets=[
            dict(type=dataset_type, data_root=data_root, dataset='refcoco', split='train',
                 pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root, dataset='refcoco+', split='train',
                 pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root, dataset='refcocog', split='train',
                 pipeline=train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, dataset='refcocog', split='val',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='RVOSMetric')
test_evaluator = val_evaluator
