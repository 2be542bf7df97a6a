"""Dataset settings of the frame sampler and OSS step (tgl_mm/datasets/pipeline_settings.py)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from tgl_mm.datasets import MeViSDataset, ObjectSelectiveSupervision, RandomFrameSampler
from tgl_mm.datasets.pipeline_settings import (
    apply_frame_sampling,
    apply_oss,
    apply_pipeline_settings,
)

PIPELINE = [
    dict(type='MomentAwareFrameSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision'),
    dict(type='VideoResizePad', size=32),
    dict(type='PackVideoInputs'),
]


def test_none_keeps_the_pipeline_as_written():
    assert apply_pipeline_settings(PIPELINE) == PIPELINE
    built = [RandomFrameSampler(4), ObjectSelectiveSupervision(enabled=False)]
    assert apply_pipeline_settings(built) == built     # built pipelines are untouched


def test_settings_are_merged_into_their_steps_without_changing_the_input():
    before = copy.deepcopy(PIPELINE)
    out = apply_pipeline_settings(PIPELINE, frame_sampling=dict(num_frames=6, mplus_ratio=0.0),
                                  oss=False)
    assert before == PIPELINE
    assert out[0] == dict(type='MomentAwareFrameSampler', num_frames=6, mplus_ratio=0.0)
    assert out[3] == dict(type='ObjectSelectiveSupervision', enabled=False)
    assert out[1:3] == PIPELINE[1:3] and out[4:] == PIPELINE[4:]


def test_any_frame_sampler_type_is_the_target():
    pipe = [dict(type='RandomFrameSampler'), dict(type=ObjectSelectiveSupervision)]
    assert apply_frame_sampling(pipe, dict(num_frames=3))[0]['num_frames'] == 3
    assert apply_oss(pipe, True)[1]['enabled'] is True
    with pytest.raises(ValueError, match=r"sets \['mplus_ratio'\], which RandomFrameSampler"):
        apply_frame_sampling(pipe, dict(mplus_ratio=0.5), where='MeViSDataset(split=train)')


def test_a_step_stating_another_value_is_an_error():
    pipe = [dict(type='MomentAwareFrameSampler', num_frames=1, mplus_ratio=1.0),
            dict(type='ObjectSelectiveSupervision', enabled=True)]
    with pytest.raises(ValueError, match=r'MeViSDataset.*num_frames: step 1 vs setting 4'):
        apply_frame_sampling(pipe, dict(num_frames=4), where='MeViSDataset')
    with pytest.raises(ValueError, match='enabled: step True vs setting False'):
        apply_oss(pipe, False)
    # the same value is no conflict
    assert apply_pipeline_settings(pipe, frame_sampling=dict(num_frames=1), oss=True) == pipe


def test_missing_ambiguous_or_built_steps_and_bad_values():
    no_oss = [dict(type='MomentAwareFrameSampler'), dict(type='PackVideoInputs')]
    with pytest.raises(ValueError, match='no ObjectSelectiveSupervision step'):
        apply_oss(no_oss, True)
    two = [dict(type='MomentAwareFrameSampler'), dict(type='AllFramesSampler')]
    with pytest.raises(ValueError, match=r'2 \(steps \[0, 1\]\) BaseFrameSampler'):
        apply_frame_sampling(two, dict(num_frames=2))
    with pytest.raises(ValueError, match='already built RandomFrameSampler at pipeline step 0'):
        apply_frame_sampling([RandomFrameSampler(4)], dict(num_frames=2))
    with pytest.raises(ValueError, match='`oss` must be True, False or None'):
        apply_oss(PIPELINE, 1)
    with pytest.raises(ValueError, match='`frame_sampling` must be a dict'):
        apply_frame_sampling(PIPELINE, 0.5)


def test_dataset_builds_the_effective_pipeline(mevis_root):
    """The dataset's settings reach its built pipeline and its clips: with OSS, one-frame M+
    clips of the two-object expression (objects seen at different moments) keep one object;
    without, both."""
    from tgl_mm.datasets.sample_rng import SampleIndex

    kept = {}
    for oss in (True, False):
        ds = MeViSDataset(data_root=str(mevis_root), split='train',
                          moment_file='moments/train.json', pipeline=PIPELINE,
                          frame_sampling=dict(num_frames=1, mplus_ratio=1.0), oss=oss)
        sampler, step = ds.pipeline.transforms[0], ds.pipeline.transforms[3]
        assert (sampler.num_frames, sampler.mplus_ratio, step.enabled) == (1, 1.0, oss)
        index = next(i for i in range(len(ds)) if len(ds.get_data_info(i)['obj_ids']) == 2)
        kept[oss] = set()
        for seed in range(20):
            out = ds[SampleIndex(index, (seed, 0, index))]['data_samples']
            assert len(out.metainfo['frame_inds']) == 1 and np.asarray(out.gt_mplus).all()
            kept[oss].add(int(np.asarray(out.gt_obj_keep).sum()))
    assert kept == {True: {1}, False: {2}}
    with pytest.raises(ValueError, match=r"MeViSDataset\(split='train'\): `oss` is set"):
        MeViSDataset(data_root=str(mevis_root), split='train', pipeline=PIPELINE[:3],
                     oss=True, lazy_init=True)
