"""segment_video / read_frames take uint8 RGB frames only (no silent conversion)."""
from __future__ import annotations

import numpy as np
import pytest


def test_segment_video_takes_uint8_frames_only():
    from tgl_mm.apis.inference import read_frames

    good = np.zeros((2, 8, 8, 3), np.uint8)
    frames, names = read_frames(good)
    assert frames.dtype == np.uint8 and names == ['00000', '00001']
    with pytest.raises(TypeError, match=r'frame 0: frames must be uint8.*float32.*\* 255'):
        read_frames(np.full((2, 8, 8, 3), 0.5, np.float32))
    with pytest.raises(TypeError, match='frame 0: frames must be uint8 .*int64'):
        read_frames(np.full((2, 8, 8, 3), 300, np.int64))
    with pytest.raises(TypeError, match='frame 1: expected a numpy array, got list'):
        read_frames([good[0], [[1, 2, 3]]])
    with pytest.raises(ValueError, match=r'frame 0: expected a non-empty \(H, W, 3\)'):
        read_frames([np.zeros((0, 0, 3), np.uint8)])


def test_segment_video_refuses_other_dtypes_before_using_the_model():
    from tgl_mm.apis import segment_video

    no_model = object()  # never reached
    for frames in (np.random.rand(3, 8, 8, 3).astype(np.float32),
                   np.full((3, 8, 8, 3), 7, np.int64)):
        with pytest.raises(TypeError, match='frames must be uint8'):
            segment_video(no_model, frames, 'the dog')
