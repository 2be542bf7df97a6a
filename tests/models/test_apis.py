"""tgl_mm.apis: build a model from a config + checkpoint and segment a folder of frames."""
import cv2
import numpy as np
import pytest
import torch

from tgl_mm.apis import init_model, read_frames, segment_video
from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
from tgl_mm.testing import tiny_tgl_config


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    text_dir = save_tiny_text_encoder(tmp_path_factory.mktemp('txt') / 'bert', 'bert',
                                      hidden_size=32, num_layers=4)
    return tiny_tgl_config(text_dir, chunk_size=None)


@pytest.fixture(scope='module')
def frame_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('frames')
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(d / f'{i:05d}.jpg'), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    return d


def test_init_model_loads_checkpoint(tiny_config, tmp_path):
    torch.manual_seed(0)
    model = init_model(tiny_config)
    ckpt = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    torch.manual_seed(1)
    loaded = init_model(tiny_config, str(ckpt))
    assert not loaded.training
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_segment_video_folder(tiny_config, frame_dir):
    model = init_model(tiny_config)
    res = segment_video(model, frame_dir, 'the square moving to the right')
    assert res.masks.shape == (5, 40, 56) and res.masks.dtype == bool
    assert res.mplus.all()  # default grounding without moments: none
    assert res.frame_names == ['00000', '00001', '00002', '00003', '00004']
    given = np.array([0, 1, 1, 0, 0], dtype=bool)
    res2 = segment_video(model, frame_dir, 'the square moving to the right', mplus=given)
    assert (res2.mplus == given).all()
    assert model.grounding.__class__.__name__ == 'OracleGrounding'  # config's, restored


def test_read_frames_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no image files'):
        read_frames(tmp_path)
    with pytest.raises(ValueError, match='one size'):
        read_frames([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])
    frames, names = read_frames([np.zeros((4, 6, 3), np.uint8)] * 2)
    assert frames.shape == (2, 4, 6, 3) and names == ['00000', '00001']


def test_segment_video_rejects_bad_mplus(tiny_config, frame_dir):
    model = init_model(tiny_config)
    with pytest.raises(ValueError, match='one flag per frame'):
        segment_video(model, frame_dir, 'a cat', mplus=[True, False])
    with pytest.raises(ValueError, match='non-empty'):
        segment_video(model, frame_dir, '   ')
