"""tgl_mm.formats: the MeViS-format parser and its named errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tgl_mm import formats as io
from tgl_mm.formats import DataFormatError


def _meta(**exp_overrides):
    e = {'exp': 'a  Dog', 'obj_id': [1], 'anno_id': [7]}
    e.update(exp_overrides)
    return {'videos': {'v': {'frames': ['00000', '00001'], 'expressions': {'0': e}}}}


def test_load_meta_normalises_and_types(mevis_root):
    videos = io.load_meta_expressions(mevis_root / 'train' / 'meta_expressions.json')
    assert set(videos) == {'v0', 'v1'}
    e = videos['v0'].expressions['0']
    assert e.text == 'the box moving left'          # lower-cased, whitespace collapsed
    assert e.obj_ids == (1,) and e.anno_ids == ('a1',)
    assert videos['v0'].frames == tuple(f'{t:05d}' for t in range(6))


def test_meta_ids_cast_and_scalar():
    v = io.parse_meta_expressions(_meta(obj_id='3', anno_id=5))['v']
    assert v.expressions['0'].obj_ids == (3,) and v.expressions['0'].anno_ids == ('5',)


@pytest.mark.parametrize('raw, field, words', [
    ({'videos': {'v': {'expressions': {}}}}, 'frames', 'frame list'),
    ({'videos': {'v': {'frames': ['a', 'a'], 'expressions': {}}}}, 'frames', 'duplicate'),
    (_meta(exp='   '), 'exp', 'empty expression'),
    (_meta(exp=None), 'exp', 'missing'),
    (_meta(obj_id=[1, 2], anno_id=[7]), 'anno_id', 'aligned'),
    (_meta(obj_id=[1, 1], anno_id=[7, 8]), 'obj_id', 'duplicate'),
    (_meta(obj_id=[True]), 'obj_id', 'int or str'),
    (_meta(anno_id=[]), 'anno_id', 'aligned'),
])
def test_meta_errors_name_video_expression_field(raw, field, words):
    with pytest.raises(DataFormatError) as err:
        io.parse_meta_expressions(raw, source='m.json')
    e = err.value
    assert e.field == field and e.video == 'v' and e.file == 'm.json'
    assert words in str(e) and "video 'v'" in str(e)
    if field != 'frames':
        assert e.expression == '0'


def test_meta_missing_ids_required_only_with_masks():
    raw = {'videos': {'v': {'frames': ['0'], 'expressions': {'0': {'exp': 'x'}}}}}
    with pytest.raises(DataFormatError, match="field 'obj_id'"):
        io.parse_meta_expressions(raw)
    v = io.parse_meta_expressions(raw, require_ids=False)['v']
    assert v.expressions['0'].obj_ids == () and v.expressions['0'].anno_ids == ()


def test_meta_not_a_videos_object():
    with pytest.raises(DataFormatError, match='videos'):
        io.parse_meta_expressions([1, 2])


def test_load_json_errors(tmp_path):
    with pytest.raises(DataFormatError, match='not found') as err:
        io.load_json(tmp_path / 'nope.json')
    assert err.value.file.endswith('nope.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"videos": {')
    with pytest.raises(DataFormatError, match='invalid JSON at line 1'):
        io.load_json(bad)
    dup = tmp_path / 'dup.json'
    dup.write_text('{"videos": {"v": {"frames": ["0"], "expressions": {}}, '
                   '"v": {"frames": ["0"], "expressions": {}}}}')
    with pytest.raises(DataFormatError, match="duplicate key 'v'"):
        io.load_meta_expressions(dup)


def test_mask_dict_structure_errors(tmp_path):
    p = tmp_path / 'mask_dict.json'
    p.write_text(json.dumps({'5': {'size': [1, 1]}}))
    with pytest.raises(DataFormatError, match="anno_id '5'.*one RLE"):
        io.load_mask_dict(p)
    p.write_text(json.dumps({'5': [None, {'size': [0, 3], 'counts': 'x'}]}))
    with pytest.raises(DataFormatError) as err:
        io.load_mask_dict(p)
    assert err.value.anno_id == '5' and err.value.frame == 1 and err.value.field == 'size'
    p.write_text(json.dumps({'5': [{'size': [2, 3], 'counts': 12}]}))
    with pytest.raises(DataFormatError, match='counts'):
        io.load_mask_dict(p)


def test_decode_rle_roundtrip_and_size_check(fx):
    H, W = fx.H, fx.W
    m = fx.object_mask(1, 3)
    r = fx.rle(m)
    np.testing.assert_array_equal(io.decode_rle(r), m)
    np.testing.assert_array_equal(io.decode_rle({**r, 'counts': r['counts'].encode()}), m)
    with pytest.raises(DataFormatError) as err:
        io.decode_rle(r, expected_size=(H + 1, W), anno_id='42', frame='00003', video='v')
    e = err.value
    assert (e.anno_id, e.frame, e.video, e.field) == ('42', '00003', 'v', 'size')
    assert 'differs from the frame size' in str(e)


def test_expression_target_union_and_null(mevis_root, fx):
    H, W, object_mask = fx.H, fx.W, fx.object_mask
    md = io.load_mask_dict(mevis_root / 'train' / 'mask_dict.json')
    tgt = io.expression_target(md, ['a1', 'a2'], [0, 4], video='v0', expression='1')
    assert tgt.shape == (2, H, W) and tgt.dtype == bool
    np.testing.assert_array_equal(tgt[0], object_mask(1, 0))         # a2 null at frame 0
    np.testing.assert_array_equal(tgt[1], object_mask(1, 4) | object_mask(2, 4))
    empty = io.expression_target(md, [], [0, 1], size=(H, W))
    assert not empty.any() and empty.shape == (2, H, W)
    with pytest.raises(DataFormatError, match='null'):
        io.expression_target({'x': [None]}, ['x'], [0])
    with pytest.raises(DataFormatError) as err:
        io.expression_target(md, ['zz'], [0], size=(H, W), video='v0', expression='0')
    assert err.value.anno_id == 'zz' and 'missing from mask_dict' in str(err.value)
    with pytest.raises(DataFormatError, match='out of range'):
        io.expression_target(md, ['a1'], [99], frame_names=None)


def test_check_expression_annotations(tmp_path, fx):
    H, W = fx.H, fx.W
    root = fx.make_mevis(tmp_path)
    videos = io.load_meta_expressions(root / 'train' / 'meta_expressions.json')
    md = io.load_mask_dict(root / 'train' / 'mask_dict.json')
    io.check_expression_annotations(videos['v0'], md)
    md_short = dict(md, a1=md['a1'][:3])
    with pytest.raises(DataFormatError, match='3 mask entries for 6 frames') as err:
        io.check_expression_annotations(videos['v0'], md_short, source='md.json')
    assert err.value.anno_id == 'a1' and err.value.file == 'md.json'
    del md['a2']
    with pytest.raises(DataFormatError, match='missing from mask_dict') as err:
        io.check_expression_annotations(videos['v0'], md)
    assert err.value.expression == '1'
    assert io.video_frame_size(md, ['a1']) == (H, W)
    assert io.frame_path('s', 'v', '00001').as_posix() == 's/JPEGImages/v/00001.jpg'


def test_formats_do_not_need_torch():
    import subprocess
    import sys
    # the data-format floor is numpy / pycocotools / PIL only
    code = 'import sys, tgl_mm.formats; print("torch" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=str(__import__('pathlib').Path(__file__).parents[2]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'False'
