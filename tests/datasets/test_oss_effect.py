"""oss_changed_share: the share of sampled training clips whose target OSS changes."""
from __future__ import annotations

import pytest

from tgl_mm.datasets.oss_effect import oss_changed_share
from tgl_mm.formats import ExpressionMoments


def _exp(*spans):
    return ExpressionMoments(objects={i: (s,) for i, s in enumerate(spans)})


def test_cases_with_known_answers():
    frames = {'v': 10}
    disjoint = {'v': {'0': _exp((0, 2), (7, 9))}}
    same = {'v': {'0': _exp((2, 5), (2, 5))}}
    single = {'v': {'0': _exp((3, 4))}}
    # one frame, drawn from M+: it always misses one of two disjoint moments
    assert oss_changed_share(disjoint, frames, clip_frames=1, mplus_ratio=1.0)['share'] == 1.0
    # equal moments or a single object: OSS never drops anything
    for moments in (same, single):
        r = oss_changed_share(moments, frames, clip_frames=2, mplus_ratio=0.5)
        assert r['changed_clips'] == 0 and r['clips'] == 8
    # a clip of every frame meets every moment
    assert oss_changed_share(disjoint, frames, clip_frames=10)['changed_clips'] == 0
    # three disjoint moments, two M+ frames: at least one object is always missed
    three = {'v': {'0': _exp((0, 0), (5, 5), (9, 9))}}
    assert oss_changed_share(three, frames, clip_frames=2, mplus_ratio=1.0)['share'] == 1.0


def test_sampling_statistics_and_determinism():
    frames = {'v': 24, 'w': 20}
    moments = {'v': {'0': _exp((0, 3), (18, 23)), '1': _exp((0, 23))},
               'w': {'0': ExpressionMoments(video=((2, 8),))}}     # video-level: skipped
    r = oss_changed_share(moments, frames, clips_per_expression=400, seed=1)
    assert r['expressions'] == 2 and r['clips'] == 800
    assert r['expressions_with_changed_clips'] == 1
    # expression v/0: both M+ frames in one moment (about 0.43) and the two other frames
    # missing the other moment (about 0.6): roughly a quarter of its clips, an eighth overall
    assert 0.07 < r['share'] < 0.2
    assert oss_changed_share(moments, frames, clips_per_expression=400, seed=1) == r
    assert oss_changed_share(moments, frames, clips_per_expression=400, seed=2) != r


def test_bad_input():
    with pytest.raises(ValueError, match='clips_per_expression'):
        oss_changed_share({}, {}, clips_per_expression=0)
    with pytest.raises(KeyError, match="video 'v'"):
        oss_changed_share({'v': {'0': _exp((0, 1))}}, {})
    assert oss_changed_share({}, {})['share'] == 0.0
