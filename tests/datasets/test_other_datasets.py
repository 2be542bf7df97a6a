"""Ref-YouTube-VOS, Ref-DAVIS17 and RefCOCO(+/g) on small fixtures."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from tgl_mm.datasets import RefCOCODataset, RefDAVIS17Dataset, RefYouTubeVOSDataset
from tgl_mm.formats import DataFormatError


def test_ref_ytvos_train_palette_masks(tmp_path, fx):
    root = fx.make_ytvos(tmp_path / 'ytvos')
    ds = RefYouTubeVOSDataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert len(ds) == 4
    info = ds.get_data_info(1)
    assert info['dataset_name'] == 'ref_ytvos' and info['obj_ids'] == [2]
    s = ds[1]['data_samples']
    assert s.metainfo['has_moments'] is False and s.gt_mplus.all()
    t = s.metainfo['frame_inds'][0]
    np.testing.assert_array_equal(s.gt_masks[0, :48, :64].numpy()[::2, ::2],
                                  fx.object_mask(2, t))


def test_ref_ytvos_valid_is_valid_minus_test(tmp_path, fx):
    root = fx.make_ytvos(tmp_path / 'ytvos')
    ds = RefYouTubeVOSDataset(str(root), 'valid', fx.TEST_PIPELINE, test_mode=True)
    assert {ds.get_data_info(i)['video_id'] for i in range(len(ds))} == {'v0'}
    s = ds[0]['data_samples']
    assert 'gt_masks' not in s and ds[0]['inputs'].shape[0] == 5
    with pytest.raises(DataFormatError, match='training needs masks'):
        RefYouTubeVOSDataset(str(root), 'valid', fx.TRAIN_PIPELINE)
    (root / 'meta_expressions' / 'test' / 'meta_expressions.json').unlink()
    with pytest.raises(DataFormatError, match='test meta_expressions.json'):
        RefYouTubeVOSDataset(str(root), 'valid', fx.TEST_PIPELINE, test_mode=True)


def test_ref_ytvos_missing_obj_id_and_annotation(tmp_path, fx):
    root = fx.make_ytvos(tmp_path / 'ytvos')
    meta = root / 'meta_expressions' / 'train' / 'meta_expressions.json'
    d = json.loads(meta.read_text())
    del d['videos']['v1']['expressions']['1']['obj_id']
    meta.write_text(json.dumps(d))
    with pytest.raises(DataFormatError, match="field 'obj_id'") as err:
        RefYouTubeVOSDataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert err.value.video == 'v1' and err.value.expression == '1'
    root = fx.make_ytvos(tmp_path / 'ytvos2')
    (root / 'train' / 'Annotations' / 'v0' / '00003.png').unlink()
    ds = RefYouTubeVOSDataset(str(root), 'train', fx.TEST_PIPELINE, test_mode=True)
    with pytest.raises(DataFormatError, match='annotation file not found') as err:
        ds[0]
    assert err.value.video == 'v0' and err.value.frame == '00003'


def test_ref_davis17_expression_sets(tmp_path, fx):
    root = fx.make_ytvos(tmp_path / 'davis', davis=True)
    ds = RefDAVIS17Dataset(str(root), 'valid', fx.TEST_PIPELINE, test_mode=True)
    assert len(ds) == 16                        # 2 videos x 2 objects x 4 sets
    out = ds[5]                                 # v0 exp '5': object 2, set 1
    s = out['data_samples']
    assert s.metainfo['expression_set'] == 1 and s.metainfo['obj_ids'] == [2]
    assert s.metainfo['dataset_name'] == 'ref_davis17'
    np.testing.assert_array_equal(s.gt_masks[3].numpy(), fx.object_mask(2, 3))
    two = RefDAVIS17Dataset(str(root), 'valid', fx.TEST_PIPELINE, test_mode=True,
                            expression_sets=(0, 2))
    assert len(two) == 8 and {two.get_data_info(i)['expression_set']
                              for i in range(8)} == {0, 2}
    with pytest.raises(ValueError, match='expression_sets'):
        RefDAVIS17Dataset(str(root), 'valid', expression_sets=(4,))


def _coco(root, fx):
    img_dir = root / 'train2014'
    images, anns = [], []
    for i in range(2):
        fx.write_frame(img_dir / f'COCO_train2014_{i:012d}.jpg', i)
        images.append({'id': i, 'file_name': f'COCO_train2014_{i:012d}.jpg', 'height': fx.H,
                       'width': fx.W})
    poly = [[4.0, 2.0, 12.0, 2.0, 12.0, 10.0, 4.0, 10.0]]       # a box: cols 4..12, rows 2..10
    anns.append({'id': 10, 'image_id': 0, 'segmentation': poly, 'category_id': 1})
    anns.append({'id': 11, 'image_id': 1, 'segmentation': fx.rle(fx.object_mask(1, 2)),
                 'category_id': 1})
    refs = [
        {'ref_id': 0, 'image_id': 0, 'ann_id': 10, 'split': 'train',
         'sentences': [{'sent_id': 100, 'sent': 'Left  box'}, {'sent_id': 101, 'sent': 'box'}]},
        {'ref_id': 1, 'image_id': 1, 'ann_id': 11, 'split': 'val',
         'sentences': [{'sent_id': 102, 'sent': 'the box'}]},
    ]
    d = root / 'refcoco'
    d.mkdir(parents=True)
    (d / 'instances.json').write_text(json.dumps({'images': images, 'annotations': anns}))
    with open(d / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    return images, anns


def test_refcoco_refs_layout_pseudo_clips(tmp_path, fx):
    root = tmp_path / 'coco'
    _coco(root, fx)
    ds = RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert len(ds) == 2
    out = ds[0]
    s = out['data_samples']
    assert out['inputs'].shape == (4, 3, 64, 64)           # one image repeated into T=4
    assert s.metainfo['frame_inds'] == [0, 0, 0, 0] and s.gt_mplus.all()
    assert s.metainfo['has_moments'] is True and s.metainfo['dataset_name'] == 'refcoco'
    assert s.metainfo['text'] in ('left box', 'box')
    box = np.zeros((fx.H, fx.W), bool)
    box[2:10, 4:12] = True
    got = s.gt_masks[0, :48, :64].numpy()[::2, ::2]
    assert (got == box).mean() > 0.97                      # polygon rasterisation
    val = RefCOCODataset(str(root), 'val', fx.TEST_PIPELINE, test_mode=True)
    np.testing.assert_array_equal(val[0]['data_samples'].gt_masks[0].numpy(),
                                  fx.object_mask(1, 2))
    plus = RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE, dataset='refcoco+',
                          split_by='unc', lazy_init=True)
    assert plus.dataset_name == 'refcoco+'
    with pytest.raises(ValueError, match='moment_file'):
        RefCOCODataset(str(root), 'train', moment_file='m.json')


def test_refcoco_refuses_code_in_pickles(tmp_path, fx):
    root = tmp_path / 'coco'
    _coco(root, fx)
    marker = tmp_path / 'pwned'

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f'touch {marker}',))

    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump([Evil()], f)
    with pytest.raises(DataFormatError, match='refusing to unpickle'):
        RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert not marker.exists()


def test_refcoco_bad_refs(tmp_path, fx):
    root = tmp_path / 'coco'
    _coco(root, fx)
    refs = [{'ref_id': 5, 'image_id': 0, 'ann_id': 99, 'split': 'train',
             'sentences': [{'sent_id': 1, 'sent': 'x'}]},
            {'ref_id': 6, 'image_id': 0, 'ann_id': 10, 'split': 'train',
             'sentences': [{'sent_id': 2, 'sent': 'ok'}]}]
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    with pytest.raises(DataFormatError, match='ann_id 99 not in instances.json') as err:
        RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert err.value.expression == '5'
    ds = RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE, skip_invalid=True)
    assert len(ds) == 1 and ds.num_skipped_at_load == 1
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs[1:], f)
    (root / 'train2014' / 'COCO_train2014_000000000000.jpg').unlink()
    with pytest.raises(DataFormatError, match='image file not found') as err:
        RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE)
    assert err.value.file.endswith('COCO_train2014_000000000000.jpg')
    with pytest.raises(DataFormatError, match="no usable expression in split 'train'"):
        RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE, skip_invalid=True)


def test_refcoco_converted_json(tmp_path, fx):
    root = tmp_path / 'coco'
    images, anns = _coco(root, fx)
    conv_images = [dict(images[0], id=1, original_id=0, caption='the LEFT box'),
                   dict(images[0], id=2, original_id=0, caption='a box'),
                   dict(images[1], id=3, original_id=1, caption='')]
    conv_anns = [dict(anns[0], id=1, image_id=1, original_id=10),
                 dict(anns[0], id=2, image_id=2, original_id=10),
                 dict(anns[1], id=3, image_id=3, original_id=11)]
    p = root / 'refcoco' / 'instances_refcoco_train.json'
    p.write_text(json.dumps({'images': conv_images, 'annotations': conv_anns}))
    with pytest.raises(DataFormatError, match='empty expression text') as err:
        RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE,
                       ann_file='refcoco/instances_refcoco_train.json')
    assert err.value.expression == '3'
    ds = RefCOCODataset(str(root), 'train', fx.TRAIN_PIPELINE, skip_invalid=True,
                        ann_file='refcoco/instances_refcoco_train.json')
    assert len(ds) == 2
    s = ds[0]['data_samples']
    assert s.metainfo['obj_ids'] == [10] and s.metainfo['text'] == 'the left box'
