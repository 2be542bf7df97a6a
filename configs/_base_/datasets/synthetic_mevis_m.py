# Synthetic MeViS-M (tools/data/make_synthetic_mevis_m.py): the embedded benchmark for `make demo`,
# tests and CPU runs. 160x120 px frames, 20-28 frames per video; 150 train / 24 valid_u / 10 valid
# videos by default; appearance, event and motion expressions (docs/datasets.md). Generate it with
#   python tools/data/make_synthetic_mevis_m.py --out-dir data/synthetic_mevis_m
#
# The clip length, the M+ share and OSS are settings of the train dataset (`frame_sampling`,
# `oss`): a child config changes them with a dict merge, e.g.
#   train_dataloader = dict(dataset=dict(frame_sampling=dict(num_frames=6)))
# Old-style configs do not re-evaluate the base, so a child that changes `img_size` restates the
# pipelines and points the dataloaders at them (docs/datasets.md "Overriding the input size and
# clip length").
dataset_type = 'MeViSDataset'
data_root = 'data/synthetic_mevis_m'
img_size = 128      # square model input S: longer side resized to S, bottom/right zero padding
num_frames = 4      # training clip length T (paper: 8 for Hiera-B, 6 for Hiera-L)
mplus_ratio = 0.5   # share of each clip always drawn from M+ (paper A.3: half)
use_oss = True      # object-level selective supervision (paper §4.4); False: the ablation

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
# whole videos; frames resized/padded for the model, ground truth kept at the original size
test_pipeline = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=img_size, resize_masks=False),
    dict(type='PackVideoInputs'),
]

# data loading costs ~3 ms per clip here: the main process keeps up with a CPU model
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
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
# a batch holds up to 8 expressions of one video, segmented side by side: the image-encoder
# work that does not depend on the sentence is done once for them (docs/inference.md)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
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
# valid_u has masks; the `valid` split has none (its ground truth is in valid_gt/ for
# tools/eval_rvos.py). Test on it with --out (predictions are written, not scored):
#   python tools/test.py CONFIG CKPT --out work_dirs/valid_preds \
#     --cfg-options test_dataloader.dataset.split=valid \
#                   test_dataloader.dataset.moment_file=moments/valid.json
#   python tools/eval_rvos.py --gt-root data/synthetic_mevis_m/valid_gt \
#     --pred-dir work_dirs/valid_preds
test_dataloader = val_dataloader

val_evaluator = dict(type='RVOSMetric')
test_evaluator = val_evaluator
