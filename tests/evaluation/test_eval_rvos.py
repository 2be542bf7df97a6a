"""Offline MeViS evaluation (tools/eval_rvos.py) on a fixture with known answers."""
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tgl_mm.evaluation.functional import j_and_f_reference
from tgl_mm.evaluation.offline import PredictionError, evaluate_predictions
from tgl_mm.formats import DataFormatError, mask_to_png

REPO = Path(__file__).resolve().parents[2]
H, W = 12, 16


def box(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


EMPTY = np.zeros((H, W), bool)
BOX1, BOX2, BOX3 = box(2, 7, 3, 10), box(5, 10, 8, 15), box(0, 4, 0, 4)


def rle(m):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {'size': [int(v) for v in r['size']], 'counts': r['counts'].decode()}


def write_split(root: Path):
    """MeViS layout: videos a (2 frames), b (1 frame), c (3 frames)."""
    objects = {'1': [BOX1, None], '2': [None, BOX2], '3': [BOX3], '4': [BOX1, BOX1, BOX2],
               '5': [BOX2, BOX1]}
    meta = {'videos': {
        'a': {'frames': ['00000', '00001'], 'expressions': {
            '0': {'exp': 'the cat', 'obj_id': [1], 'anno_id': [1]},
            '1': {'exp': 'both cats', 'obj_id': [1, 2], 'anno_id': [1, 2]},
            '2': {'exp': 'the dog', 'obj_id': [2], 'anno_id': [2]},
            '3': {'exp': 'the cat', 'obj_id': [1], 'anno_id': [1]},  # duplicate sentence
            '4': {'exp': 'the bird', 'obj_id': [5], 'anno_id': [5]}}},
        'b': {'frames': ['00000'], 'expressions': {
            '0': {'exp': 'a box', 'obj_id': [3], 'anno_id': [3]}}},
        'c': {'frames': ['00000', '00001', '00002'], 'expressions': {
            '0': {'exp': 'a thing', 'obj_id': [4], 'anno_id': [4]}}},
    }}
    mask_dict = {k: [None if m is None else rle(m) for m in v] for k, v in objects.items()}
    root.mkdir(parents=True, exist_ok=True)
    (root / 'meta_expressions.json').write_text(json.dumps(meta))
    (root / 'mask_dict.json').write_text(json.dumps(mask_dict))


SHIFTED = [np.roll(BOX2, 2, axis=1), np.roll(BOX1, -1, axis=0)]


def write_preds(pred: Path):
    def put(vid, eid, frame, m):
        p = pred / vid / eid / f'{frame}.png'
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(mask_to_png(m))
    put('a', '0', '00000', BOX1)
    put('a', '0', '00001', EMPTY)  # exact: 100
    put('a', '1', '00000', BOX1)
    put('a', '1', '00001', EMPTY)  # frame 1 misses BOX2: 50
    put('a', '2', '00000', EMPTY)  # frame 00001 missing: 0 there, exact on frame 0: 50
    put('a', '3', '00000', EMPTY)
    put('a', '3', '00001', EMPTY)  # frame 0 empty vs BOX1: 0; frame 1 both empty: 1 -> 50
    put('a', '4', '00000', SHIFTED[0])
    put('a', '4', '00001', SHIFTED[1])  # scored like the reference
    (pred / 'b').mkdir()  # b/0 missing expression; video c missing entirely
    put('zzz', '0', '00000', EMPTY)  # not in the GT
    put('a', '0', '00099', EMPTY)  # not a frame of a


def expected_a4():
    j, f = j_and_f_reference(np.stack(SHIFTED), np.stack([BOX2, BOX1]))
    return 100 * j.mean(), 100 * f.mean()


@pytest.fixture
def fixture_dirs(tmp_path):
    gt, pred = tmp_path / 'valid_u', tmp_path / 'pred'
    write_split(gt)
    write_preds(pred)
    return gt, pred


@pytest.mark.parametrize('nproc', [1, 2])
def test_known_answers(fixture_dirs, nproc):
    gt, pred = fixture_dirs
    summary, records = evaluate_predictions(gt, pred, nproc=nproc, progress=False)
    by_key = {(r['video_id'], r['exp_id']): r for r in records}
    j4, f4 = expected_a4()
    expected = {('a', '0'): (100, 100), ('a', '1'): (50, 50), ('a', '2'): (50, 50),
                ('a', '3'): (50, 50), ('a', '4'): (j4, f4), ('b', '0'): (0, 0), ('c', '0'): (0, 0)}
    assert set(by_key) == set(expected)
    for key, (j, f) in expected.items():
        assert by_key[key]['J'] == pytest.approx(j, abs=1e-9), key
        assert by_key[key]['F'] == pytest.approx(f, abs=1e-9), key
    j_mean = (250 + j4) / 7
    f_mean = (250 + f4) / 7
    assert summary['J'] == pytest.approx(j_mean, abs=1e-9)
    assert summary['F'] == pytest.approx(f_mean, abs=1e-9)
    assert summary['J&F'] == pytest.approx((j_mean + f_mean) / 2, abs=1e-9)
    assert summary['num_expressions'] == 7
    fail = summary['failures']
    assert fail['missing_videos'] == ['c']
    assert fail['missing_expressions'] == ['b/0']
    assert fail['missing_frames'] == {'a/2': ['00001']}
    assert fail['num_failed_expressions'] == 3
    assert fail['num_missing_frames'] == 1 + 1 + 3
    assert by_key[('a', '2')]['F_frames'] == [1.0, 0.0]
    assert summary['unexpected'] == {'videos': ['zzz'], 'expressions': [],
                                     'frames': ['a/0/00099.png']}


def test_cli_writes_report(fixture_dirs, tmp_path):
    gt, pred = fixture_dirs
    out = tmp_path / 'rep' / 'report.json'
    cmd = [sys.executable, str(REPO / 'tools' / 'eval_rvos.py'), '--gt-root', str(gt),
           '--pred-dir', str(pred), '--out', str(out), '--no-progress']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert 'missing videos: c' in res.stderr and 'missing expressions: b/0' in res.stderr
    report = json.loads(out.read_text())
    j4, f4 = expected_a4()
    assert report['J'] == pytest.approx((250 + j4) / 7, abs=1e-9)
    assert len(report['per_expression']) == 7
    assert (tmp_path / 'rep' / 'report_per_expression.csv').is_file()
    assert (tmp_path / 'rep' / 'report_per_video.csv').is_file()
    main = runpy.run_path(str(REPO / 'tools' / 'eval_rvos.py'), run_name='tool')['main']
    assert main(cmd[2:] + ['--strict']) == 3


def test_size_mismatch_names_the_file(fixture_dirs):
    gt, pred = fixture_dirs
    bad = pred / 'a' / '0' / '00001.png'
    bad.write_bytes(mask_to_png(np.zeros((H, W + 1), bool)))
    with pytest.raises(PredictionError, match=r'a/0/00001\.png.*17x12.*16x12'):
        evaluate_predictions(gt, pred, nproc=1, progress=False)


def test_unreadable_file_names_it(fixture_dirs):
    gt, pred = fixture_dirs
    bad = pred / 'a' / '1' / '00000.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(PredictionError, match=r'a/1/00000\.png'):
        evaluate_predictions(gt, pred, nproc=2, progress=False)


def test_bad_ground_truth_and_paths(fixture_dirs, tmp_path):
    gt, pred = fixture_dirs
    with pytest.raises(FileNotFoundError, match='prediction folder'):
        evaluate_predictions(gt, tmp_path / 'nope', progress=False)
    (gt / 'mask_dict.json').write_text('{"1": [null]}')
    with pytest.raises(DataFormatError, match='mask_dict'):
        evaluate_predictions(gt, pred, progress=False)
    (gt / 'meta_expressions.json').unlink()
    with pytest.raises(DataFormatError, match='meta_expressions.json'):
        evaluate_predictions(gt, pred, progress=False)


def test_cli_error_exit(fixture_dirs, tmp_path, capsys):
    gt, _ = fixture_dirs
    main = runpy.run_path(str(REPO / 'tools' / 'eval_rvos.py'), run_name='tool')['main']
    assert main(['--gt-root', str(gt), '--pred-dir', str(tmp_path / 'missing'),
                 '--no-progress']) == 2
    assert 'prediction folder not found' in capsys.readouterr().err
