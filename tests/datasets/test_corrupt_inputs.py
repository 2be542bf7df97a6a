"""Corrupt data is caught where it is read: short RLE counts, truncated JPEG/PNG, 0x0 frames.
Each error names the file, video and frame; ``skip_invalid`` skips such samples with a count."""
from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tgl_mm.datasets import MeViSDataset
from tgl_mm.formats import (
    DataFormatError,
    check_counts,
    decode_rle,
    image_damage,
    read_rgb,
    rle_run_lengths,
)


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(x) for x in rle['size']], counts=rle['counts'].decode())


def test_run_lengths_match_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = rng.random((17, 23)) < rng.random()
        rle = _rle(mask)
        runs = rle_run_lengths(rle['counts'])
        assert sum(runs) == 17 * 23
        check_counts((17, 23), rle['counts'])
        # the runs alternate 0s and 1s, starting with 0s: the mask back in Fortran order
        flat = np.concatenate([np.full(r, i % 2, bool) for i, r in enumerate(runs)])
        assert np.array_equal(flat.reshape(23, 17).T, mask)


@pytest.mark.parametrize('counts, reason', [
    ('0', 'run lengths sum to 0'), ('', 'run lengths sum to 0'),
    ('b', 'end in the middle of a run length'), ('0\x7f', 'invalid character')])
def test_short_or_damaged_counts_are_refused(counts, reason):
    with pytest.raises(DataFormatError, match=f'cannot decode RLE counts: .*{reason}') as err:
        decode_rle(dict(size=[4, 5], counts=counts), anno_id='a3', frame='00002', video='v1',
                   source='mask_dict.json')
    assert (err.value.video, err.value.anno_id, err.value.frame) == ('v1', 'a3', '00002')


def _jpeg(path, h: int = 48, w: int = 64) -> bytes:
    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)
    return path.read_bytes()


def test_truncated_images_are_refused(tmp_path):
    data = _jpeg(tmp_path / 'f.jpg')
    assert image_damage(data) is None and image_damage(data + b'\0\0') is None
    (tmp_path / 'f.jpg').write_bytes(data[:len(data) // 2])
    with pytest.raises(DataFormatError, match='JPEG data is truncated') as err:
        read_rgb(str(tmp_path / 'f.jpg'), dict(video='v1', frame='00002'))
    assert err.value.file.endswith('f.jpg') and err.value.frame == '00002'
    cv2.imwrite(str(tmp_path / 'p.png'), np.zeros((8, 8, 3), np.uint8))
    png = (tmp_path / 'p.png').read_bytes()
    (tmp_path / 'p.png').write_bytes(png[:-20])
    with pytest.raises(DataFormatError, match='PNG data is truncated'):
        read_rgb(str(tmp_path / 'p.png'), {})
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(DataFormatError, match='unreadable'):
        read_rgb(str(tmp_path / 'empty.jpg'), {})


def test_zero_size_frame_is_refused(tmp_path):
    # a PNG header claiming 0 x 0 pixels: decoders return nothing
    path = tmp_path / 'zero.png'
    cv2.imwrite(str(path), np.zeros((1, 1, 3), np.uint8))
    data = bytearray(path.read_bytes())
    data[16:24] = bytes(8)  # IHDR width and height
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match='zero.png'):
        read_rgb(str(path), {})


def _train(root, fx, **kw) -> MeViSDataset:
    return MeViSDataset(str(root), 'train', fx.TRAIN_PIPELINE, moment_file='moments/train.json',
                        **kw)


def _index(ds: MeViSDataset, video: str, exp: str) -> int:
    return next(i for i in range(len(ds))
                if (ds.get_data_info(i)['video_id'], ds.get_data_info(i)['exp_id']) == (video, exp))


def _logs(monkeypatch) -> list[str]:
    from tgl_mm.datasets import base_rvos_dataset

    seen: list[str] = []
    original = base_rvos_dataset.print_log

    def record(msg, logger=None, level=logging.INFO):
        seen.append(msg)
        original(msg, logger=logger, level=level)

    monkeypatch.setattr(base_rvos_dataset, 'print_log', record)
    return seen


@pytest.mark.parametrize('breakage', ['short_rle', 'truncated_jpeg'])
def test_corrupt_sample_named_and_skipped_with_count(mevis_root, fx, monkeypatch, breakage):
    train = mevis_root / 'train'
    if breakage == 'short_rle':
        masks = json.loads((train / 'mask_dict.json').read_text())
        masks['a3'] = [dict(r, counts='0') if r else r for r in masks['a3']]
        (train / 'mask_dict.json').write_text(json.dumps(masks))
        words = "anno_id 'a3'.*run lengths sum to 0"
    else:
        for jpg in (train / 'JPEGImages' / 'v1').glob('*.jpg'):
            data = jpg.read_bytes()
            jpg.write_bytes(data[:len(data) // 2])
        words = 'JPEG data is truncated'
    strict = _train(mevis_root, fx)
    with pytest.raises(DataFormatError, match=words) as err:
        strict[_index(strict, 'v1', '0')]
    assert err.value.video == 'v1' and err.value.frame is not None
    lenient = _train(mevis_root, fx, skip_invalid=True)
    logs = _logs(monkeypatch)
    out = lenient[_index(lenient, 'v1', '0')]
    assert out['data_samples'].metainfo['video_id'] == 'v0'
    assert lenient.num_skipped_at_fetch >= 1
    assert any('skipping invalid sample v1/0 (1 skipped' in m for m in logs)
