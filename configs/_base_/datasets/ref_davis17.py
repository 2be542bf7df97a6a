# Ref-DAVIS17 in the YTVOS-style converted layout under data/ref-davis:
#   meta_expressions/{train,valid}/meta_expressions.json (4 expressions per object)
#   {train,valid}/JPEGImages/<video>/<frame>.jpg, {train,valid}/Annotations/<video>/<frame>.png
# Zero-shot evaluation on valid (30 videos); each sample carries `expression_set` (0..3) and the
# score is the mean over the four annotator sets (see docs/evaluation.md).
dataset_type = 'RefDAVIS17Dataset'
data_root = 'data/ref-davis'
img_size = 1024

test_pipeline = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=img_size, resize_masks=False),
    dict(type='PackVideoInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='valid',
                 expression_sets=(0, 1, 2, 3), test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
# RVOSMetric reports the per-expression (MeViS-style) J&F and writes the predictions; the paper's
# Ref-DAVIS17 number is the DAVIS protocol on them:
#   tools/eval_ref_davis17.py --pred-dir work_dirs/ref_davis17_valid_predictions ...
test_evaluator = dict(type='RVOSMetric', output_dir='work_dirs/ref_davis17_valid_predictions')
val_evaluator = test_evaluator
