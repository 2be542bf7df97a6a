"""Ref-DAVIS17: palette, merging, the DAVIS unsupervised protocol, the per-set evaluation."""
import itertools
import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from tgl_mm.evaluation.functional import j_and_f_reference
from tgl_mm.evaluation.ref_davis import (
    davis_palette,
    evaluate_ref_davis17,
    expression_sets,
    merge_object_masks,
    read_label_png,
    unsupervised_video_scores,
    write_label_png,
)
from tgl_mm.formats import ExpressionMeta, VideoMeta, mask_to_png

REPO = Path(__file__).resolve().parents[2]


def test_palette():
    pal = davis_palette()
    assert pal.shape == (256, 3)
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0]
    assert pal[2].tolist() == [0, 128, 0] and pal[3].tolist() == [128, 128, 0]
    assert pal[255].tolist() == [224, 224, 192]


def test_merge_object_masks():
    a = np.array([[[1, 1, 0, 0]]], bool)
    b = np.array([[[0, 1, 1, 0]]], bool)
    assert merge_object_masks([a, b]).tolist() == [[[1, 1, 2, 0]]]  # overlap: first object wins
    p1 = np.array([[[0.4, 0.9, 0.3]]])
    p2 = np.array([[[0.6, 0.8, 0.2]]])
    # 0.4 and 0.3/0.2 fall below 0.5 and lose to the background 0.1
    assert merge_object_masks([p1, p2]).tolist() == [[[2, 1, 0]]]


def test_label_png_roundtrip(tmp_path):
    labels = np.array([[0, 1, 2], [3, 255, 0]], np.uint8)
    write_label_png(tmp_path / 'x.png', labels)
    np.testing.assert_array_equal(read_label_png(tmp_path / 'x.png'), labels)
    (tmp_path / 'rgb.png').write_bytes(b'junk')
    with pytest.raises(ValueError, match='rgb.png'):
        read_label_png(tmp_path / 'rgb.png')


def _objects(t=2, h=20, w=24):
    gt = np.zeros((t, h, w), np.uint8)
    gt[:, 2:8, 2:9] = 1
    gt[:, 10:18, 12:22] = 2
    return gt


def test_hungarian_matching_ignores_label_values():
    gt = _objects()
    pred = np.where(gt == 1, 2, np.where(gt == 2, 1, 0)).astype(np.uint8)  # labels swapped
    pred[:, 0:2, 20:24] = 3  # a spurious extra object
    res = unsupervised_video_scores(gt, pred)
    assert res['matched'] == [2, 1]
    np.testing.assert_array_equal(res['J'], 1.0)
    np.testing.assert_array_equal(res['F'], 1.0)


def test_fewer_predictions_are_padded_and_void_is_ignored():
    gt = _objects()
    gt[:, 0, :] = 255  # void row
    pred = np.where(gt == 2, 1, 0).astype(np.uint8)
    pred[:, 0, :] = 1  # prediction inside the void region: not counted
    res = unsupervised_video_scores(gt, pred)
    assert res['matched'] == [0, 1]
    np.testing.assert_array_equal(res['J'][0], 0.0)
    np.testing.assert_array_equal(res['J'][1], 1.0)
    np.testing.assert_array_equal(res['F'][1], 1.0)


def test_gt_objects_are_those_of_the_first_frame():
    gt = _objects()
    gt[1, 0:2, 0:2] = 3  # appears only later: not a DAVIS object
    res = unsupervised_video_scores(gt, gt)
    assert len(res['matched']) == 2


def test_matching_is_optimal_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt = rng.integers(0, 3, (2, 9, 11)).astype(np.uint8)
        gt[0, 0, :2] = [1, 2]
        pred = rng.integers(0, 4, (2, 9, 11)).astype(np.uint8)
        res = unsupervised_video_scores(gt, pred)
        pairs = {}
        for a in range(1, 4):
            for b in range(1, 3):
                j, f = j_and_f_reference(pred == a, gt == b)
                pairs[a, b] = (j.mean() + f.mean()) / 2
        best = max(sum(pairs[a, b] for a, b in zip(perm, (1, 2)))
                   for perm in itertools.permutations(range(1, 4), 2))
        got = sum((res['J'][k].mean() + res['F'][k].mean()) / 2 for k in range(2))
        assert got == pytest.approx(best, abs=1e-12)


def test_too_many_proposals():
    gt = _objects()
    pred = np.zeros_like(gt)
    pred[0, 0, :21] = np.arange(1, 22)
    with pytest.raises(ValueError, match='more than the 20'):
        unsupervised_video_scores(gt, pred)


def test_expression_sets_by_id():
    exps = {str(i): ExpressionMeta(str(i), 'x', (i // 4 + 1,), ()) for i in range(8)}
    video = VideoMeta('v', ('00000',), exps)
    assert expression_sets(video) == [['0', '4'], ['1', '5'], ['2', '6'], ['3', '7']]


def write_ref_davis(root: Path):
    gt = _objects()
    frames = ['00000', '00001']
    meta = {'videos': {'v': {'frames': frames, 'expressions': {
        str(i): {'exp': f'object {i // 4} set {i % 4}', 'obj_id': str(i // 4 + 1)}
        for i in range(8)}}}}
    (root / 'meta.json').write_text(json.dumps(meta))
    for t, f in enumerate(frames):
        write_label_png(root / 'gt' / 'v' / f'{f}.png', gt[t])
    for i in range(8):
        obj, s = i // 4 + 1, i % 4
        if s == 3:
            continue  # set 3: no prediction at all
        for t, f in enumerate(frames):
            m = gt[t] == obj if not (s == 2 and obj == 2) else np.zeros(gt.shape[1:], bool)
            p = root / 'pred' / 'v' / str(i) / f'{f}.png'
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(mask_to_png(m))


@pytest.mark.parametrize('nproc', [1, 2])
def test_evaluate_ref_davis17_known_answer(tmp_path, nproc):
    write_ref_davis(tmp_path)
    res = evaluate_ref_davis17(tmp_path / 'meta.json', tmp_path / 'gt', tmp_path / 'pred',
                               nproc=nproc, save_merged_dir=tmp_path / 'merged', progress=False)
    jf = {k: v['J&F'] for k, v in res['sets'].items()}
    assert jf == {'anno1_first_frame': 100.0, 'anno1_full_video': 100.0,
                  'anno2_first_frame': 50.0, 'anno2_full_video': 0.0}
    assert res['J&F'] == 62.5 and res['J'] == 62.5 and res['F'] == 62.5
    assert len(res['missing']) == 4  # set 3: 2 expressions x 2 frames
    merged = read_label_png(tmp_path / 'merged' / 'anno1_first_frame' / 'v' / '00001.png')
    np.testing.assert_array_equal(merged, _objects()[1])


def test_cli(tmp_path, capsys):
    write_ref_davis(tmp_path)
    out = tmp_path / 'res.json'
    main = runpy.run_path(str(REPO / 'tools' / 'eval_ref_davis17.py'), run_name='tool')['main']
    assert main(['--meta', str(tmp_path / 'meta.json'), '--gt-dir', str(tmp_path / 'gt'),
                 '--pred-dir', str(tmp_path / 'pred'), '--out', str(out), '--no-progress',
                 '--nproc', '1']) == 0
    assert json.loads(out.read_text())['J&F'] == 62.5
    assert 'mean of sets' in capsys.readouterr().out
    assert main(['--meta', str(tmp_path / 'nope.json'), '--gt-dir', str(tmp_path / 'gt'),
                 '--pred-dir', str(tmp_path / 'pred'), '--no-progress']) == 2
