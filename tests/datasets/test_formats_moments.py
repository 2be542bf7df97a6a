"""MeViS-M moment files: parsing, validation against a split, the checker tool."""
from __future__ import annotations

import json
import runpy

import numpy as np
import pytest

from tgl_mm.formats import (
    DataFormatError,
    ExpressionMoments,
    check_moment_file,
    load_meta_expressions,
    load_moments,
    mask_to_spans,
    moments_to_json,
    parse_moments,
    spans_to_mask,
    validate_moments,
)


def _file(exp: dict, vid: str = 'v0', exp_id: str = '0', **top) -> dict:
    return {'videos': {vid: {'expressions': {exp_id: exp}}}, **top}


def test_spans_roundtrip():
    m = spans_to_mask([[1, 3], [6, 6], [2, 4]], 9)
    assert m.tolist() == [False, True, True, True, True, False, True, False, False]
    assert mask_to_spans(m) == [[1, 4], [6, 6]]
    assert mask_to_spans(np.ones(3, bool)) == [[0, 2]] and mask_to_spans(np.zeros(3, bool)) == []
    # torch tensors (any device) and lists; spans are clipped to the video
    import torch
    assert mask_to_spans(torch.tensor([True, True, False, True])) == [[0, 1], [3, 3]]
    assert mask_to_spans([0, 1, 1, 0, 1]) == [[1, 2], [4, 4]]
    assert spans_to_mask([[-2, 0], [4, 9]], 6).tolist() == [True, False, False, False, True, True]


def test_parse_object_and_video_level():
    mf = parse_moments(_file({'objects': {'1': [[0, 2]], '2': []}}))
    m = mf.moments['v0']['0']
    assert m.objects == {1: ((0, 2),), 2: ()} and not m.is_video_level
    assert m.object_spans([2, 1]) == [(), ((0, 2),)]
    mv = parse_moments(_file({'video': [[3, 4]]})).moments['v0']['0']
    assert mv.is_video_level and mv.object_spans([5, 6]) == [((3, 4),), ((3, 4),)]


@pytest.mark.parametrize('exp, words, field', [
    ({'objects': {'1': [[0.5, 2]]}}, 'int frame indices', 'objects.1'),
    ({'objects': {'1': [[0, 1, 2]]}}, '[start, end]', 'objects.1'),
    ({'objects': {'x': [[0, 1]]}}, 'not an int', 'objects'),
    ({'objects': {}}, 'non-empty', 'objects'),
    ({'objects': {'1': [[0, 1]]}, 'video': [[0, 1]]}, 'exactly one', None),
    ({}, 'exactly one', None),
    ({'video': 'all'}, 'list of [start, end]', 'video'),
])
def test_parse_errors_are_named(exp, words, field):
    with pytest.raises(DataFormatError) as err:
        parse_moments(_file(exp), source='m.json')
    e = err.value
    assert words in str(e) and e.file == 'm.json' and e.video == 'v0' and e.expression == '0'
    assert e.field == field


def test_parse_rejects_other_formats_and_duplicates(tmp_path):
    with pytest.raises(DataFormatError, match='unsupported moment file format'):
        parse_moments(_file({'video': [[0, 1]]}, version=2))
    with pytest.raises(DataFormatError, match='videos'):
        parse_moments({'clips': {}})
    p = tmp_path / 'dup.json'
    p.write_text('{"videos": {"v0": {"expressions": {"0": {"objects": {"1": [], "1": []}}}}}}')
    with pytest.raises(DataFormatError, match="duplicate key '1'"):
        load_moments(p)


def test_validate_against_split(mevis_root):
    videos = load_meta_expressions(mevis_root / 'train' / 'meta_expressions.json')
    mf = load_moments(mevis_root / 'moments' / 'train.json')
    assert validate_moments(mf, videos, require_all=True) == []

    def check(exp, vid='v0', exp_id='0', **top):
        validate_moments(parse_moments(_file(exp, vid, exp_id, **top), source='m'), videos)

    with pytest.raises(DataFormatError, match=r'out of range: the video has 6 frames') as err:
        check({'objects': {'1': [[2, 6]]}})
    assert err.value.field == 'objects.1'
    with pytest.raises(DataFormatError, match=r'reversed span \[3, 2\]') as err:
        check({'objects': {'1': [[3, 2]]}})
    assert err.value.field == 'objects.1' and err.value.file == 'm'
    with pytest.raises(DataFormatError, match='before frame 0'):
        check({'video': [[-1, 2]]})
    with pytest.raises(DataFormatError, match='does not refer to'):
        check({'objects': {'1': [[0, 1]], '3': [[0, 1]]}})
    with pytest.raises(DataFormatError, match=r'no moment for referred objects \[2\]'):
        check({'objects': {'1': [[0, 1]]}}, exp_id='1')
    with pytest.raises(DataFormatError, match='empty moment'):
        check({'objects': {'1': []}})
    with pytest.raises(DataFormatError, match='empty moment'):
        check({'video': []})
    with pytest.raises(DataFormatError, match='video not in the split'):
        check({'video': [[0, 1]]}, vid='nope')
    with pytest.raises(DataFormatError, match='expression not in the split'):
        check({'video': [[0, 1]]}, exp_id='9')
    bad_n = {'videos': {'v0': {'num_frames': 7, 'expressions': {}}}}
    with pytest.raises(DataFormatError, match='num_frames 7 but the video has 6'):
        validate_moments(parse_moments(bad_n), videos)
    partial = parse_moments(_file({'objects': {'1': [[0, 1]]}}))
    assert len(validate_moments(partial, videos)) == 2
    with pytest.raises(DataFormatError, match='2 expressions have no moment'):
        validate_moments(partial, videos, require_all=True)


def test_json_roundtrip():
    mom = {'v': {'0': ExpressionMoments(objects={1: ((0, 2), (5, 6))}),
                 '1': ExpressionMoments(video=((1, 1),))}}
    js = moments_to_json(mom, {'v': 7}, 'train')
    again = parse_moments(json.loads(json.dumps(js)))
    assert again.moments == mom and again.num_frames == {'v': 7} and again.split == 'train'


def test_check_moment_file_and_tool(mevis_root, tmp_path, capsys):
    s = check_moment_file(mevis_root / 'moments' / 'train.json',
                          mevis_root / 'train' / 'meta_expressions.json', require_all=True)
    assert s['expressions'] == 3 and s['object_level'] == 3 and s['missing'] == 0
    # M+ coverage: v0/0 3 of 6, v0/1 4 of 6, v1/0 5 of 8
    assert s['coverage_min'] == pytest.approx(0.5) and s['coverage_max'] == pytest.approx(4 / 6)
    tool = 'tools/data/check_moments.py'
    argv = [str(mevis_root / 'moments' / 'train.json'), '--split-dir', str(mevis_root / 'train')]
    mod = runpy.run_path(tool, run_name='check_moments')
    assert mod['main'](argv) == 0
    assert 'OK:' in capsys.readouterr().out
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(_file({'objects': {'1': [[4, 2]]}})))
    assert mod['main']([str(bad), '--split-dir', str(mevis_root / 'train')]) == 1
    err = capsys.readouterr().err
    assert 'INVALID' in err and "video 'v0'" in err and 'reversed span' in err
