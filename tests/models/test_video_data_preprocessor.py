import pytest
import torch

from tgl_mm.models.data_preprocessors import SAM2_MEAN, SAM2_STD, VideoDataPreprocessor
from tgl_mm.structures import VideoDataSample


def test_stack_and_normalise():
    pre = VideoDataPreprocessor()
    clips = [torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8) for _ in range(2)]
    samples = [VideoDataSample(), VideoDataSample()]
    out = pre(dict(inputs=clips, data_samples=samples), training=True)
    assert out['inputs'].shape == (2, 4, 3, 8, 8)
    assert out['inputs'].dtype == torch.float32
    mean = torch.tensor(SAM2_MEAN).view(3, 1, 1)
    std = torch.tensor(SAM2_STD).view(3, 1, 1)
    expected = (clips[1][2].float() - mean) / std
    assert torch.allclose(out['inputs'][1, 2], expected)
    assert len(out['data_samples']) == 2


def test_rejects_mismatched_clips():
    pre = VideoDataPreprocessor()
    clips = [torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(3, 3, 8, 8, dtype=torch.uint8)]
    with pytest.raises(ValueError, match='share'):
        pre(dict(inputs=clips, data_samples=[]))
    with pytest.raises(ValueError, match='RGB'):
        pre(dict(inputs=[torch.zeros(4, 1, 8, 8, dtype=torch.uint8)], data_samples=[]))
