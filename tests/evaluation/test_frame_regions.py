"""Per-frame scores split by the frame's place relative to the moment (issue 19's motion
breakdown): distances, regions and the per-family means."""
from __future__ import annotations

import numpy as np
import pytest

from tgl_mm.evaluation.functional.frame_regions import (
    distance_to_moment,
    frame_regions,
    region_means,
)


def test_distance_and_regions():
    assert distance_to_moment([[3, 4], [8, 8]], 11).tolist() == [3, 2, 1, 0, 0, 1, 2, 1, 0, 1, 2]
    assert distance_to_moment([], 3).tolist() == [3, 3, 3]
    assert distance_to_moment([[-2, 0], [9, 20]], 10).tolist() == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    assert frame_regions([[3, 4]], 10, near=2).tolist() == [
        'far', 'near', 'near', 'mplus', 'mplus', 'near', 'near', 'far', 'far', 'far']
    with pytest.raises(ValueError, match='start after end'):
        distance_to_moment([[4, 3]], 6)
    with pytest.raises(ValueError, match='near'):
        frame_regions([[0, 1]], 4, near=0)


def test_region_means_weight_every_frame_alike_per_family():
    recs = [
        {'video_id': 'v', 'exp_id': '0', 'family': 'motion', 'gt_spans': [[0, 1]],
         'J_frames': [1.0, 0.5, 0.0, 0.0, 0.0, 0.2]},
        {'video_id': 'w', 'exp_id': '1', 'gt_spans': [[2, 2]], 'J_frames': [0.0, 1.0, 0.5]},
    ]
    out = region_means(recs, near=2, families={('w', '1'): 'event'})
    assert out['motion']['mplus'] == {'mean': pytest.approx(75.0), 'frames': 2}
    assert out['motion']['near'] == {'mean': pytest.approx(0.0), 'frames': 2}
    assert out['motion']['far'] == {'mean': pytest.approx(10.0), 'frames': 2}
    assert out['event']['far'] == {'mean': None, 'frames': 0}
    assert out['all']['mplus'] == {'mean': pytest.approx(100 * 2.0 / 3), 'frames': 3}
    assert out['all']['near']['frames'] == 4
    assert np.isclose(out['all']['near']['mean'], 100 * 1.0 / 4)
    with pytest.raises(ValueError, match="video 'x', expression '2'"):
        region_means([{'video_id': 'x', 'exp_id': '2', 'gt_spans': [], 'J_frames': [1.0]}])
