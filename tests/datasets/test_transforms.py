"""Clip transforms: loading, resize/pad, flip with text swap, colour jitter, packing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tgl_mm.datasets.mask_store import RLEStore
from tgl_mm.datasets.transforms import (
    LoadExpressionMasks,
    LoadVideoFrames,
    PackVideoInputs,
    VideoColorJitter,
    VideoRandomFlip,
    VideoResizePad,
    keep_ratio_shape,
    swap_left_right,
)
from tgl_mm.formats import DataFormatError
from tgl_mm.structures import VideoDataSample


@pytest.mark.parametrize('text, expected', [
    ('the dog moving left', 'the dog moving right'),
    ('Left to RIGHT', 'Right to LEFT'),
    ('leftmost cat walks rightwards', 'rightmost cat walks leftwards'),
    ('on the right-hand side', 'on the left-hand side'),
    ('bright light, alright, copyright', 'bright light, alright, copyright'),
    ('turning left then left again', 'turning right then right again'),
])
def test_swap_left_right(text, expected):
    assert swap_left_right(text) == expected
    assert swap_left_right(swap_left_right(text)) == text


def _frames_info(fx, root, n=6, inds=(0, 2, 2, 5)):
    d = root / 'JPEGImages' / 'v'
    names = [f'{t:05d}' for t in range(n)]
    for t, name in enumerate(names):
        fx.write_frame(d / f'{name}.jpg', t)
    return dict(frame_dir=str(d), frame_names=names, frame_ext='.jpg', frame_inds=list(inds),
                video_id='v', exp_id='0')


def test_load_frames_reads_sampled_frames(fx, tmp_path):
    out = LoadVideoFrames()(_frames_info(fx, tmp_path))
    f = out['frames']
    assert f.shape == (4, fx.H, fx.W, 3) and f.dtype == np.uint8
    means = f.reshape(4, -1).mean(1)
    np.testing.assert_allclose(means, [fx.frame_value(t) for t in (0, 2, 2, 5)], atol=2)
    assert out['ori_shape'] == (fx.H, fx.W)


def test_load_frames_errors_name_file_video_expression(fx, tmp_path):
    info = _frames_info(fx, tmp_path)
    (tmp_path / 'JPEGImages' / 'v' / '00002.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(DataFormatError, match='unreadable') as err:
        LoadVideoFrames()(dict(info))
    e = err.value
    assert e.file.endswith('00002.jpg') and e.video == 'v' and e.expression == '0'
    assert e.frame == '00002'
    (tmp_path / 'JPEGImages' / 'v' / '00002.jpg').unlink()
    with pytest.raises(DataFormatError, match='not found'):
        LoadVideoFrames()(dict(info))
    fx.write_frame(tmp_path / 'JPEGImages' / 'v' / '00002.jpg', 2, h=fx.H + 2)
    with pytest.raises(DataFormatError, match='differs from the video'):
        LoadVideoFrames()(dict(info))


def _rle_info(fx, inds=(1, 3)):
    store = RLEStore()
    row1 = store.add_track([fx.rle(fx.object_mask(1, t)) for t in range(5)])
    row2 = store.add_track([None, None] + [fx.rle(fx.object_mask(2, t)) for t in range(2, 5)])
    store.finalize()
    return dict(mask_source='rle', mask_store=store, mask_rows=[row1, row2],
                anno_ids=['a1', 'a2'], frame_inds=list(inds), ori_shape=(fx.H, fx.W),
                frame_names=[f'{t:05d}' for t in range(5)], obj_ids=[1, 2], video_id='v',
                exp_id='0')


def test_load_masks_rle_per_object_and_union(fx):
    out = LoadExpressionMasks()(_rle_info(fx))
    om = out['gt_obj_masks']
    assert om.shape == (2, 2, fx.H, fx.W)
    np.testing.assert_array_equal(om[0, 1], fx.object_mask(1, 3))
    assert not om[1, 0].any()                                   # null entry = empty
    np.testing.assert_array_equal(om[1, 1], fx.object_mask(2, 3))
    un = LoadExpressionMasks(per_object=False)(_rle_info(fx))['gt_masks']
    np.testing.assert_array_equal(un, om.any(0))
    assert 'gt_masks' not in LoadExpressionMasks()(dict(mask_source='none', frame_inds=[0]))


def test_load_masks_rle_size_mismatch_names_anno_and_frame(fx):
    info = _rle_info(fx)
    info['ori_shape'] = (fx.H, fx.W + 1)
    with pytest.raises(DataFormatError) as err:
        LoadExpressionMasks()(info)
    e = err.value
    assert (e.anno_id, e.frame, e.video, e.expression, e.field) == ('a1', '00001', 'v', '0',
                                                                     'size')


def test_load_masks_png(fx, tmp_path):
    names = [f'{t:05d}' for t in range(3)]
    for t, name in enumerate(names):
        idx = np.zeros((fx.H, fx.W), np.uint8)
        idx[fx.object_mask(1, t)] = 1
        idx[fx.object_mask(2, t)] = 2
        fx.palette_png(tmp_path / f'{name}.png', idx)
    info = dict(mask_source='png', mask_dir=str(tmp_path), frame_names=names, obj_ids=[2],
                frame_inds=[0, 2], ori_shape=(fx.H, fx.W), video_id='v', exp_id='0')
    out = LoadExpressionMasks()(dict(info))
    np.testing.assert_array_equal(out['gt_obj_masks'][0, 1], fx.object_mask(2, 2))
    with pytest.raises(DataFormatError, match='annotation size'):
        LoadExpressionMasks()(dict(info, ori_shape=(fx.H + 1, fx.W)))
    (tmp_path / '00002.png').unlink()
    with pytest.raises(DataFormatError, match='annotation file not found'):
        LoadExpressionMasks()(dict(info))
    from PIL import Image
    Image.new('RGB', (fx.W, fx.H)).save(tmp_path / '00002.png')
    with pytest.raises(DataFormatError, match='palette PNG'):
        LoadExpressionMasks()(dict(info))


@pytest.mark.parametrize('h, w, size, new', [(120, 160, 128, (96, 128)), (160, 120, 64, (64, 48)),
                                              (50, 50, 32, (32, 32)), (10, 200, 32, (2, 32))])
def test_keep_ratio_resize_and_pad(h, w, size, new):
    assert keep_ratio_shape(h, w, size) == new
    frames = np.full((2, h, w, 3), 200, np.uint8)
    masks = np.ones((2, h, w), bool)
    out = VideoResizePad(size)(dict(frames=frames, gt_masks=masks))
    assert out['frames'].shape == (2, size, size, 3) and out['gt_masks'].shape == (2, size, size)
    nh, nw = new
    assert (out['frames'][:, :nh, :nw] == 200).all() and out['gt_masks'][:, :nh, :nw].all()
    assert (out['frames'][:, nh:] == 0).all() and (out['frames'][:, :, nw:] == 0).all()
    assert not out['gt_masks'][:, nh:].any() and not out['gt_masks'][:, :, nw:].any()
    assert out['img_shape'] == new and out['pad_shape'] == (size, size)
    assert out['scale_factor'] == pytest.approx((nw / w, nh / h))
    keep = VideoResizePad(size, resize_masks=False)(dict(frames=frames, gt_masks=masks))
    assert keep['gt_masks'].shape == (2, h, w)


def test_flip_is_consistent_and_keeps_padding(fx):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 30, 40, 3), dtype=np.uint8)
    masks = np.zeros((2, 30, 40), bool)
    masks[:, 5:9, 2:6] = True                              # on the left
    res = VideoResizePad(48)(dict(frames=frames, gt_masks=masks, text='the cat on the left'))
    before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in res.items()}
    out = VideoRandomFlip(prob=1.0)(res)
    h, w = out['img_shape']
    assert out['flip'] and out['text'] == 'the cat on the right'
    np.testing.assert_array_equal(out['frames'][:, :h, :w], before['frames'][:, :h, :w][:, :, ::-1])
    np.testing.assert_array_equal(out['gt_masks'][:, :h, :w],
                                  before['gt_masks'][:, :h, :w][:, :, ::-1])
    assert (out['frames'][:, :, w:] == 0).all() and (out['frames'][:, h:] == 0).all()
    cols = np.flatnonzero(out['gt_masks'][0].any(0))
    assert cols.min() > w // 2                             # the object is now on the right
    back = VideoRandomFlip(prob=1.0)(out)
    np.testing.assert_array_equal(back['frames'], before['frames'])
    assert back['text'] == 'the cat on the left'
    no = VideoRandomFlip(prob=0.0)(dict(before))
    assert no['flip'] is False and no['text'] == before['text']


def test_color_jitter_same_draw_per_clip_and_zero_padding():
    frame = np.random.default_rng(1).integers(30, 220, (20, 20, 3), dtype=np.uint8)
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    frames[:, :20, :20] = frame
    jit = VideoColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.1, prob=1.0)
    out = jit(dict(frames=frames.copy(), img_shape=(20, 20)))['frames']
    assert not np.array_equal(out[0, :20, :20], frame)
    np.testing.assert_array_equal(out[0], out[1])          # same parameters for every frame
    np.testing.assert_array_equal(out[0], out[2])
    assert (out[:, 20:] == 0).all() and (out[:, :, 20:] == 0).all()
    same = VideoColorJitter(prob=0.0)(dict(frames=frames.copy()))['frames']
    np.testing.assert_array_equal(same, frames)
    with pytest.raises(ValueError):
        VideoColorJitter(hue=0.7)


def _packable(t=3, s=16, n=2):
    return dict(frames=np.zeros((t, s, s, 3), np.uint8), gt_masks=np.zeros((t, s, s), bool),
                gt_mplus=np.array([True, False, True]), gt_obj_mplus=np.zeros((n, t), bool),
                gt_obj_keep=np.ones(n, bool), video_id='v', exp_id='0', text='x',
                dataset_name='mevis', split='train', frame_names=[f'{i:05d}' for i in range(9)],
                frame_inds=[1, 4, 8], num_video_frames=9, obj_ids=[3, 4], ori_shape=(12, 16),
                img_shape=(12, 16), pad_shape=(s, s), scale_factor=(1.0, 1.0), flip=False,
                has_moments=True, mask_store=object())


def test_pack_contract():
    out = PackVideoInputs()(_packable())
    x, s = out['inputs'], out['data_samples']
    assert isinstance(s, VideoDataSample)
    assert x.dtype == torch.uint8 and x.shape == (3, 3, 16, 16)
    assert s.gt_masks.dtype == torch.bool and s.gt_masks.shape == (3, 16, 16)
    assert s.gt_mplus.tolist() == [True, False, True]
    assert s.gt_obj_mplus.shape == (2, 3) and s.gt_obj_keep.shape == (2,)
    m = s.metainfo
    assert m['frame_names'] == ['00001', '00004', '00008'] and m['frame_inds'] == [1, 4, 8]
    for key in ('video_id', 'exp_id', 'text', 'num_video_frames', 'obj_ids', 'ori_shape',
                'img_shape', 'pad_shape', 'scale_factor', 'flip', 'dataset_name', 'split',
                'has_moments'):
        assert key in m
    assert 'mask_store' not in m


def test_pack_errors():
    bad = _packable()
    bad['frames'] = np.zeros((3, 12, 16, 3), np.uint8)
    with pytest.raises(ValueError, match='VideoResizePad'):
        PackVideoInputs()(bad)
    missing = _packable()
    del missing['video_id']
    with pytest.raises(KeyError, match='video_id'):
        PackVideoInputs()(missing)
