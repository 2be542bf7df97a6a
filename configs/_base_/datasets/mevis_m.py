# MeViS-M: the public MeViS layout under data/mevis plus moment files (tgl_mm format, see
# docs/datasets.md) at data/mevis/moments/{train,valid_u,valid}.json:
#   data/mevis/{train,valid_u,valid}/JPEGImages/<video>/<frame>.jpg
#   data/mevis/{train,valid_u,valid}/meta_expressions.json
#   data/mevis/{train,valid_u}/mask_dict.json
# The clip length, the M+ share and OSS are settings of the train dataset (`frame_sampling`,
# `oss`), changed with a dict merge, e.g. the Hiera-L clips:
#   train_dataloader = dict(dataset=dict(frame_sampling=dict(num_frames=6)))
# A child that changes `img_size` restates the pipelines (docs/datasets.md "Overriding the input
# size and clip length").
dataset_type = 'MeViSDataset'
data_root = 'data/mevis'
img_size = 1024     # square model input S (SAM2's native size)
num_frames = 8      # training clip length T (paper A.3: 8 for Hiera-B, 6 for Hiera-L)
mplus_ratio = 0.5   # half of each clip always from M+ (paper A.3)
use_oss = True      # object-level selective supervision (paper §4.4)

train_pipeline = [
    dict(type='MomentAwareFrameSampler'),      # arguments: the dataset's `frame_sampling`
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision'),   # on / off: the dataset's `oss`
    dict(type='VideoResizePad', size=img_size),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoColorJitter', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
         prob=0.8),
    dict(type='PackVideoInputs'),
]
test_pipeline = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=img_size, resize_masks=False),
    dict(type='PackVideoInputs'),
]

# paper: total batch 4 (4 GPUs x 1 clip)
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        moment_file='moments/train.json',
        # settings of the pipeline's frame sampler and OSS step (tgl_mm/datasets/
        # pipeline_settings.py): a child changes them with a dict merge, e.g. the random
        # sampling and no-OSS ablation:
        #   train_dataloader = dict(dataset=dict(frame_sampling=dict(mplus_ratio=0.0), oss=False))
        frame_sampling=dict(num_frames=num_frames, mplus_ratio=mplus_ratio),
        oss=use_oss,
        pipeline=train_pipeline))
# valid_u: masks and object-level moments -> J&F offline
val_dataloader = dict(
    batch_size=4,   # expressions of one video, segmented side by side (VideoBatchSampler)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    batch_sampler=dict(type='VideoBatchSampler'),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='valid_u',
        moment_file='moments/valid_u.json',
        test_mode=True,
        pipeline=test_pipeline))
# valid: no masks (scored by the MeViS server), video-level moments for oracle grounding
test_dataloader = dict(
    batch_size=4,   # expressions of one video, segmented side by side (VideoBatchSampler)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    batch_sampler=dict(type='VideoBatchSampler'),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='valid',
        moment_file='moments/valid.json',
        test_mode=True,
        pipeline=test_pipeline))

val_evaluator = dict(type='RVOSMetric')
# `valid` has no masks: write the predictions for the MeViS server (pack them with
# tools/submission/pack_mevis.py); `tools/test.py --out DIR` chooses another folder
test_evaluator = dict(type='RVOSMetric', format_only=True,
                      output_dir='work_dirs/mevis_valid_predictions')
