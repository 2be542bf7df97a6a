"""MeViSDataset on a small fixture: samples, test mode, moments, bad input, serialization."""
from __future__ import annotations

import json
import logging
import pickle
import shutil

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from tgl_mm.datasets import MeViSDataset
from tgl_mm.formats import DataFormatError
from tgl_mm.registry import DATASETS
from tgl_mm.structures import VideoDataSample


def _train(root, fx, **kw):
    kw.setdefault('moment_file', 'moments/train.json')
    return MeViSDataset(str(root), 'train', fx.TRAIN_PIPELINE, **kw)


def _sample(ds, video_id, exp_id):
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        if (info['video_id'], info['exp_id']) == (video_id, exp_id):
            return i, info
    raise AssertionError('not found')


def test_train_samples_follow_the_contract(mevis_root, fx):
    ds = DATASETS.build(dict(type='MeViSDataset', data_root=str(mevis_root), split='train',
                             moment_file='moments/train.json', pipeline=fx.TRAIN_PIPELINE))
    assert len(ds) == 3                                    # one sample per expression
    for i in range(len(ds)):
        out = ds[i]
        x, s = out['inputs'], out['data_samples']
        assert isinstance(s, VideoDataSample)
        assert x.shape == (4, 3, 64, 64) and x.dtype == torch.uint8
        assert s.gt_masks.shape == (4, 64, 64) and s.gt_masks.dtype == torch.bool
        n = len(s.metainfo['obj_ids'])
        assert s.gt_obj_mplus.shape == (n, 4) and s.gt_obj_keep.shape == (n,)
        assert s.gt_mplus.sum() >= 2
        m = s.metainfo
        assert m['dataset_name'] == 'mevis' and m['split'] == 'train' and m['has_moments']
        assert m['ori_shape'] == (fx.H, fx.W) and m['img_shape'] == (48, 64)
        assert m['pad_shape'] == (64, 64) and m['scale_factor'] == (2.0, 2.0)
        assert len(m['frame_names']) == 4 and m['frame_inds'] == sorted(m['frame_inds'])
        # frames are the sampled ones (uniform grey value per frame index)
        means = x[:, 0, :48, :64].float().mean(dim=(1, 2)).numpy()
        np.testing.assert_allclose(means, [fx.frame_value(t) for t in m['frame_inds']], atol=3)
    i, info = _sample(ds, 'v0', '0')
    assert info['text'] == 'the box moving left'


def test_train_targets_are_oss_unions_at_the_right_frames(mevis_root, fx):
    ds = _train(mevis_root, fx)
    i, _ = _sample(ds, 'v0', '1')          # objects 1 (moment [0,1]) and 2 (moment [4,5])
    for _ in range(30):
        s = ds[i]['data_samples']
        inds = s.metainfo['frame_inds']
        keep = [any(t in (0, 1) for t in inds), any(t in (4, 5) for t in inds)]
        assert s.gt_obj_keep.tolist() == keep
        for k, t in enumerate(inds):
            exp = np.zeros((fx.H, fx.W), bool)
            if keep[0]:
                exp |= fx.object_mask(1, t)
            if keep[1] and t >= 2:         # object 2 is absent (null RLE) before frame 2
                exp |= fx.object_mask(2, t)
            got = s.gt_masks[k, :48, :64].numpy()
            # nearest 2x upscaling of the original-size target
            np.testing.assert_array_equal(got[::2, ::2], exp)


def test_test_mode_whole_video_original_size(tmp_path, fx):
    root = fx.make_mevis(tmp_path / 'm', split='valid_u')
    ds = MeViSDataset(str(root), 'valid_u', fx.TEST_PIPELINE, moment_file='moments/valid_u.json',
                      test_mode=True)
    i, _ = _sample(ds, 'v0', '1')
    s = ds[i]['data_samples']
    assert ds[i]['inputs'].shape == (6, 3, 64, 64)
    assert s.gt_masks.shape == (6, fx.H, fx.W)
    np.testing.assert_array_equal(s.gt_masks[4].numpy(),
                                  fx.object_mask(1, 4) | fx.object_mask(2, 4))
    assert s.gt_mplus.tolist() == [True, True, False, False, True, True]
    assert s.metainfo['frame_names'] == [f'{t:05d}' for t in range(6)]


def test_valid_split_without_masks(tmp_path, fx):
    root = fx.make_mevis(tmp_path / 'm', split='valid', with_masks=False, video_level=True)
    ds = MeViSDataset(str(root), 'valid', fx.TEST_PIPELINE, moment_file='moments/valid.json',
                      test_mode=True)
    i, _ = _sample(ds, 'v0', '1')
    s = ds[i]['data_samples']
    assert 'gt_masks' not in s and s.metainfo['obj_ids'] == []
    assert s.gt_mplus.tolist() == [True, True, False, False, True, True]
    with pytest.raises(DataFormatError, match='training needs masks'):
        MeViSDataset(str(root), 'valid', fx.TRAIN_PIPELINE)


def _record_logs(monkeypatch) -> list[tuple[str, int]]:
    import tgl_mm.datasets.base_rvos_dataset as base
    logs: list[tuple[str, int]] = []
    monkeypatch.setattr(base, 'print_log', lambda msg, logger=None, level=20: logs.append(
        (msg, level)))
    return logs


def test_without_moment_file_all_mplus_and_warning(mevis_root, fx, monkeypatch):
    logs = _record_logs(monkeypatch)
    ds = _train(mevis_root, fx, moment_file=None)
    assert any('no moment file: every frame is in M+' in m and lvl == logging.WARNING
               for m, lvl in logs)
    s = ds[0]['data_samples']
    assert s.gt_mplus.all() and s.gt_obj_keep.all() and s.metainfo['has_moments'] is False


def test_missing_moments_drop_or_error(mevis_root, fx):
    p = mevis_root / 'moments' / 'train.json'
    mf = json.loads(p.read_text())
    del mf['videos']['v1']
    p.write_text(json.dumps(mf))
    assert len(_train(mevis_root, fx)) == 2
    with pytest.raises(DataFormatError, match='no moment for this expression') as err:
        _train(mevis_root, fx, missing_moments='error')
    assert err.value.video == 'v1' and err.value.expression == '0'
    with pytest.raises(ValueError, match='missing_moments'):
        _train(mevis_root, fx, missing_moments='keep')


def _edit_json(path, fn):
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


@pytest.mark.parametrize('breakage, words, where', [
    ('moment_out_of_range', 'out of range', ('v1', '0')),
    ('moment_reversed', 'reversed span', ('v1', '0')),
    ('moment_foreign_object', 'does not refer to', ('v1', '0')),
    ('anno_missing', 'anno_id missing from mask_dict', ('v1', '0')),
    ('anno_short', '5 mask entries for 8 frames', ('v1', '0')),
    ('frame_missing', 'disagrees with the folder', ('v1', None)),
    ('frame_extra', 'not in the frame list', ('v1', None)),
    ('empty_text', 'empty expression text', ('v1', '0')),
    ('no_object', 'refers to no object', ('v1', '0')),
])
def test_bad_input_is_named_and_skippable(mevis_root, fx, monkeypatch, breakage, words, where):
    tr = mevis_root / 'train'
    moments = mevis_root / 'moments' / 'train.json'
    v1 = lambda d: d['videos']['v1']['expressions']['0']  # noqa: E731
    if breakage == 'moment_out_of_range':
        _edit_json(moments, lambda d: v1(d).update(objects={'3': [[2, 8]]}))
    elif breakage == 'moment_reversed':
        _edit_json(moments, lambda d: v1(d).update(objects={'3': [[5, 2]]}))
    elif breakage == 'moment_foreign_object':
        _edit_json(moments, lambda d: v1(d).update(objects={'3': [[1, 2]], '1': [[1, 2]]}))
    elif breakage == 'anno_missing':
        _edit_json(tr / 'mask_dict.json', lambda d: d.pop('a3'))
    elif breakage == 'anno_short':
        _edit_json(tr / 'mask_dict.json', lambda d: d.update(a3=d['a3'][:5]))
    elif breakage == 'frame_missing':
        (tr / 'JPEGImages' / 'v1' / '00003.jpg').unlink()
    elif breakage == 'frame_extra':
        shutil.copy(tr / 'JPEGImages' / 'v1' / '00003.jpg', tr / 'JPEGImages' / 'v1' / 'x.jpg')
    elif breakage == 'empty_text':
        _edit_json(tr / 'meta_expressions.json',
                   lambda d: d['videos']['v1']['expressions']['0'].update(exp=' '))
    elif breakage == 'no_object':
        _edit_json(tr / 'meta_expressions.json', lambda d: d['videos']['v1']['expressions']['0']
                   .update(obj_id=[], anno_id=[]))
    with pytest.raises(DataFormatError, match=words) as err:
        _train(mevis_root, fx)
    assert err.value.video == where[0] and err.value.expression == where[1]
    logs = _record_logs(monkeypatch)
    ds = _train(mevis_root, fx, skip_invalid=True)
    assert len(ds) == 2 and ds.num_skipped_at_load == 1
    assert any('skipped 1 invalid expressions' in m for m, _ in logs)
    assert {ds.get_data_info(i)['video_id'] for i in range(len(ds))} == {'v0'}


def test_bad_file_at_fetch_time_skipped_only_on_request(mevis_root, fx, monkeypatch):
    (mevis_root / 'train' / 'JPEGImages' / 'v1' / '00002.jpg').write_bytes(b'garbage')
    strict = _train(mevis_root, fx, moment_file=None)
    i, _ = _sample(strict, 'v1', '0')
    strict.pipeline.transforms[0] = _AllFrames()
    with pytest.raises(DataFormatError, match='unreadable') as err:
        strict[i]
    assert err.value.video == 'v1' and err.value.frame == '00002'
    lenient = _train(mevis_root, fx, moment_file=None, skip_invalid=True)
    lenient.pipeline.transforms[0] = _AllFrames()
    logs = _record_logs(monkeypatch)
    out = lenient[i]                                        # another sample is drawn
    assert out['data_samples'].metainfo['video_id'] == 'v0'
    assert lenient.num_skipped_at_fetch >= 1
    assert any('skipping invalid sample v1/0 (1 skipped' in m for m, _ in logs)
    test = MeViSDataset(str(mevis_root), 'train', fx.TEST_PIPELINE, test_mode=True,
                        skip_invalid=True)
    with pytest.raises(DataFormatError):                    # never skipped when evaluating
        test[_sample(test, 'v1', '0')[0]]


class _AllFrames:
    """Stand-in first step: every frame (so the corrupt frame is always read)."""

    def __call__(self, results):
        from tgl_mm.datasets.transforms.frame_sampling import AllFramesSampler
        out = AllFramesSampler()(results)
        out['frame_inds'] = out['frame_inds'][:4]
        out['gt_mplus'] = out['gt_mplus'][:4]
        out['gt_obj_mplus'] = out['gt_obj_mplus'][:, :4]
        return out


def test_serialized_compact_and_picklable(mevis_root, fx):
    ds = _train(mevis_root, fx)
    assert ds.serialize_data and ds.data_list == [] and len(ds.data_bytes) > 0
    info = ds.get_data_info(0)
    assert 'mask_store' not in info and not any(isinstance(v, dict) and 'counts' in v
                                                for v in info.values())
    # each anno_id's RLEs are stored once, although a1 is referred to by two expressions
    assert len(ds.mask_store) == 6 + 6 + 8
    clone = pickle.loads(pickle.dumps(ds))
    s0, s1 = clone[0]['data_samples'], ds[0]['data_samples']
    assert s0.metainfo['video_id'] == s1.metainfo['video_id']
    unser = _train(mevis_root, fx, serialize_data=False)
    assert len(unser) == 3 and unser[0]['inputs'].shape == (4, 3, 64, 64)
    sub = ds.get_subset([2])
    assert len(sub) == 1 and sub[0]['inputs'].shape == (4, 3, 64, 64)


def test_pseudo_collate_keeps_samples(mevis_root, fx):
    ds = _train(mevis_root, fx)
    batch = pseudo_collate([ds[0], ds[1]])
    assert isinstance(batch['inputs'], list) and len(batch['inputs']) == 2
    assert all(isinstance(s, VideoDataSample) for s in batch['data_samples'])


def test_dataloader_with_workers(mevis_root, fx):
    from torch.utils.data import DataLoader
    ds = _train(mevis_root, fx)
    dl = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
    n = sum(len(b['inputs']) for b in dl)
    assert n == 3


def test_missing_split_and_files(tmp_path, fx):
    with pytest.raises(DataFormatError, match='split directory not found'):
        MeViSDataset(str(tmp_path), 'train', fx.TRAIN_PIPELINE)
    root = fx.make_mevis(tmp_path / 'm')
    (root / 'train' / 'meta_expressions.json').unlink()
    with pytest.raises(DataFormatError, match='meta_expressions.json not found'):
        MeViSDataset(str(root), 'train', fx.TRAIN_PIPELINE)
    with pytest.raises(DataFormatError, match='moment file not found'):
        MeViSDataset(str(fx.make_mevis(tmp_path / 'n')), 'train', fx.TRAIN_PIPELINE,
                     moment_file='nope.json')


def test_rle_size_differs_from_frame_named_at_fetch(mevis_root, fx):
    md = mevis_root / 'train' / 'mask_dict.json'
    big = fx.rle(np.zeros((fx.H + 4, fx.W), bool) | np.eye(fx.H + 4, fx.W, dtype=bool))
    _edit_json(md, lambda d: d['a3'].__setitem__(5, big))
    ds = MeViSDataset(str(mevis_root), 'train', fx.TEST_PIPELINE, test_mode=True)
    with pytest.raises(DataFormatError, match='differs from the frame size') as err:
        ds[_sample(ds, 'v1', '0')[0]]
    e = err.value
    assert (e.video, e.expression, e.anno_id, e.frame) == ('v1', '0', 'a3', '00005')
    assert e.file.endswith('mask_dict.json')


def test_families_keep_only_the_tagged_expressions(tmp_path):
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    from tgl_mm.formats import FAMILIES_FILE, load_families
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=4, num_valid_u=1, num_valid=1, size=64,
                           min_frames=6, max_frames=8, progress=False, log=None)
    tags = load_families(root / 'train' / FAMILIES_FILE)
    every = MeViSDataset(data_root=str(root), split='train', moment_file='moments/train.json')
    kept = MeViSDataset(data_root=str(root), split='train', moment_file='moments/train.json',
                        families=('appearance', 'event'))
    keys = [(kept.get_data_info(i)['video_id'], kept.get_data_info(i)['exp_id'])
            for i in range(len(kept))]
    assert len(kept) == sum(f in ('appearance', 'event') for f in tags.values()) < len(every)
    assert {tags[k] for k in keys} == {'appearance', 'event'}
    with pytest.raises(ValueError, match='no expression of families'):
        MeViSDataset(data_root=str(root), split='train', families='colour')
    (root / 'train' / FAMILIES_FILE).unlink()
    with pytest.raises(DataFormatError, match='needs a families file'):
        MeViSDataset(data_root=str(root), split='train', families='event')
