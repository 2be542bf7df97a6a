"""Moment-aware / random / all-frames samplers and OSS targets."""
from __future__ import annotations

import numpy as np
import pytest

from tgl_mm.datasets.transforms import ObjectSelectiveSupervision
from tgl_mm.datasets.transforms.frame_sampling import (
    AllFramesSampler,
    MomentAwareFrameSampler,
    RandomFrameSampler,
    moment_flags,
)
from tgl_mm.formats import spans_to_mask
from tgl_mm.registry import TRANSFORMS


def _info(n: int, obj_moments: list[list[tuple[int, int]]]) -> dict:
    mplus = [s for spans in obj_moments for s in spans]
    return dict(num_video_frames=n, obj_moments=obj_moments, mplus_spans=mplus)


def test_registered_as_transforms():
    for name in ('MomentAwareFrameSampler', 'RandomFrameSampler', 'AllFramesSampler'):
        assert TRANSFORMS.get(name) is not None
    s = TRANSFORMS.build(dict(type='MomentAwareFrameSampler', num_frames=6))
    assert s.num_mplus == 3


@pytest.mark.parametrize('num_frames, n_video, spans', [
    (8, 40, [[(5, 7)], [(30, 33)]]),          # small M+ (7 frames): quota 4 still met
    (8, 40, [[(0, 39)]]),                      # everything M+
    (6, 30, [[(10, 10)]]),                     # 1 M+ frame < quota 3: repeated
    (8, 5, [[(1, 2)]]),                        # video shorter than the clip
    (5, 50, [[(2, 4), (40, 45)], []]),         # odd T: ceil(5/2)=3 from M+; object w/o moment
])
def test_moment_aware_properties(num_frames, n_video, spans):
    sampler = MomentAwareFrameSampler(num_frames=num_frames)
    info = _info(n_video, spans)
    mplus, obj_mplus = moment_flags(info)
    quota = -(-num_frames // 2)
    seen_mminus = False
    for _ in range(200):
        out = sampler(dict(info))
        inds = np.asarray(out['frame_inds'])
        assert len(inds) == num_frames
        assert (np.diff(inds) >= 0).all()                         # temporal order
        assert out['gt_mplus'].sum() >= quota                     # half always in M+
        np.testing.assert_array_equal(out['gt_mplus'], mplus[inds])
        np.testing.assert_array_equal(out['gt_obj_mplus'], obj_mplus[:, inds])
        assert out['gt_obj_mplus'].shape == (len(spans), num_frames)
        if n_video >= num_frames and mplus.sum() >= quota:
            assert len(set(inds.tolist())) == num_frames            # distinct when possible
        seen_mminus |= bool((~out['gt_mplus']).any())
    if (~mplus).sum() >= num_frames:
        assert seen_mminus                                        # the rest may come from M-


def test_moment_aware_rest_covers_whole_video():
    sampler = MomentAwareFrameSampler(num_frames=4)
    info = _info(20, [[(0, 3)]])
    hits = np.zeros(20)
    for _ in range(600):
        hits[sampler(dict(info))['frame_inds']] += 1
    assert (hits > 0).all()


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match='num_frames'):
        MomentAwareFrameSampler(num_frames=0)
    for bad in (-0.1, 1.5, True, '0.5'):
        with pytest.raises(ValueError, match='mplus_ratio'):
            MomentAwareFrameSampler(mplus_ratio=bad)
    with pytest.raises(ValueError, match='at least one M\\+ frame'):
        MomentAwareFrameSampler(num_frames=2).sample(np.zeros(5, bool), np.random.default_rng(0))


@pytest.mark.parametrize('num_frames, n_video, spans', [
    (4, 20, [[(5, 7)]]), (8, 40, [[(0, 39)]]), (6, 4, [[(1, 2)]]), (3, 9, [[]]),
])
def test_mplus_ratio_zero_draws_random_sampler_frames(num_frames, n_video, spans):
    """``mplus_ratio=0`` is uniform random sampling: RandomFrameSampler's frames from the same
    generator (M+ may even be empty)."""
    info = _info(n_video, spans)
    zero = MomentAwareFrameSampler(num_frames=num_frames, mplus_ratio=0.0)
    random = RandomFrameSampler(num_frames=num_frames)
    assert zero.num_mplus == 0
    for seed in range(100):
        a = zero(dict(info, rng=np.random.default_rng(seed)))
        b = random(dict(info, rng=np.random.default_rng(seed)))
        assert a['frame_inds'] == b['frame_inds']
        np.testing.assert_array_equal(a['gt_obj_mplus'], b['gt_obj_mplus'])


def test_random_and_all_frames():
    info = _info(12, [[(2, 3)]])
    mplus_hit = []
    for _ in range(100):
        out = RandomFrameSampler(num_frames=4)(dict(info))
        inds = out['frame_inds']
        assert inds == sorted(inds) and len(set(inds)) == 4
        mplus_hit.append(out['gt_mplus'].sum())
    assert min(mplus_hit) == 0          # random sampling ignores moments
    out = AllFramesSampler()(dict(info))
    assert out['frame_inds'] == list(range(12))
    np.testing.assert_array_equal(out['gt_mplus'], spans_to_mask([(2, 3)], 12))


def test_oss_drops_exactly_objects_whose_moment_misses_the_clip():
    rng = np.random.default_rng(0)
    oss, no_oss = ObjectSelectiveSupervision(), ObjectSelectiveSupervision(enabled=False)
    for _ in range(100):
        n_obj, t = int(rng.integers(1, 4)), 4
        obj_mplus = rng.random((n_obj, t)) < 0.3
        masks = rng.random((n_obj, t, 6, 7)) < 0.5
        out = oss(dict(gt_obj_mplus=obj_mplus, gt_obj_masks=masks.copy()))
        keep = obj_mplus.any(axis=1)
        np.testing.assert_array_equal(out['gt_obj_keep'], keep)
        expected = masks[keep].any(axis=0) if keep.any() else np.zeros((t, 6, 7), bool)
        np.testing.assert_array_equal(out['gt_masks'], expected)
        assert 'gt_obj_masks' not in out
        off = no_oss(dict(gt_obj_mplus=obj_mplus, gt_obj_masks=masks.copy()))
        assert off['gt_obj_keep'].all()
        np.testing.assert_array_equal(off['gt_masks'], masks.any(axis=0))


def test_oss_with_sampler_end_to_end():
    """Object 2's moment lies late in the video: clips that miss it drop object 2."""
    info = _info(30, [[(0, 29)], [(25, 27)]])
    sampler, oss = RandomFrameSampler(num_frames=3), ObjectSelectiveSupervision()
    kept2 = []
    for _ in range(200):
        out = sampler(dict(info))
        inds = np.asarray(out['frame_inds'])
        masks = np.zeros((2, 3, 2, 2), bool)
        masks[1, :, 0, 0] = True       # object 2 visible in every frame
        out = oss(dict(out, gt_obj_masks=masks))
        hit = bool(((inds >= 25) & (inds <= 27)).any())
        assert out['gt_obj_keep'].tolist() == [True, hit]
        assert out['gt_masks'][:, 0, 0].all() == hit
        kept2.append(hit)
    assert any(kept2) and not all(kept2)


def test_oss_without_masks_and_mismatch():
    out = ObjectSelectiveSupervision()(dict(gt_obj_mplus=np.array([[True, False]])))
    assert out['gt_obj_keep'].tolist() == [True] and 'gt_masks' not in out
    with pytest.raises(ValueError, match='2 object masks for 1 objects'):
        ObjectSelectiveSupervision()(dict(gt_obj_mplus=np.ones((1, 2), bool),
                                          gt_obj_masks=np.ones((2, 2, 3, 3), bool)))
