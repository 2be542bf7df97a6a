"""Report figures and the analysis tools (make_report, render_overlay)."""
import json
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest

from tgl_mm.evaluation.offline import evaluate_predictions
from tgl_mm.evaluation.report import attach_moments, load_report, write_report
from tgl_mm.formats import load_moments
from tgl_mm.visualization.report_figures import (
    coverage_bins,
    plot_grounding_timeline,
    plot_jf_vs_coverage,
)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def tool(*parts):
    return runpy.run_path(str(REPO / 'tools' / Path(*parts)), run_name='tool')['main']


def _fixture():
    return runpy.run_path(str(HERE / 'test_eval_rvos.py'), run_name='fixture')


def test_coverage_bins_by_hand():
    bins = coverage_bins([0, 10, 20, 100, 100], [10, 20, 30, 40, 60])
    assert [b['count'] for b in bins] == [2, 1, 0, 0, 2]
    assert bins[0]['mean'] == 15 and bins[2]['mean'] is None and bins[4]['mean'] == 50


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    recs = [{'gt_coverage': float(c), 'J&F': float(100 * c)} for c in rng.random(30)]
    plot_jf_vs_coverage(recs, tmp_path / 'cov.png')
    assert cv2.imread(str(tmp_path / 'cov.png')) is not None
    with pytest.raises(ValueError, match='moment coverage'):
        plot_jf_vs_coverage([{'J&F': 1.0}], tmp_path / 'none.png')
    full = {'video_id': 'v', 'exp_id': '0', 'text': 'x', 'num_frames': 10, 'J&F': 50.0,
            'gt_spans': [[2, 5]], 'pred_spans': [[3, 7]], 'frame_scores': list(range(10)),
            'J_frames': [0.5] * 10, 'F_frames': [0.5] * 10}
    plot_grounding_timeline(full, tmp_path / 't1.png')
    plot_grounding_timeline({'video_id': 'v', 'exp_id': '1', 'num_frames': 3},
                            tmp_path / 't2.png')  # nothing but the frame axis
    assert cv2.imread(str(tmp_path / 't1.png')).shape[1] > cv2.imread(
        str(tmp_path / 't2.png')).shape[1] * 0.5


def _moments(path, videos):
    path.write_text(json.dumps({'format': 'tgl_mm.moments', 'version': 1, 'videos': videos}))
    return load_moments(path)


def test_attach_moments(tmp_path):
    recs = [{'video_id': 'a', 'exp_id': '0', 'num_frames': 4},
            {'video_id': 'b', 'exp_id': '0', 'num_frames': 2}]
    gt = _moments(tmp_path / 'gt.json', {'a': {'expressions': {
        '0': {'objects': {'1': [[0, 0]], '2': [[2, 2]]}}}}})
    pred = _moments(tmp_path / 'pred.json', {'a': {'expressions': {'0': {'video': [[0, 1]]}}}})
    assert attach_moments(recs, gt, 'gt') == 1
    assert attach_moments(recs, pred, 'pred') == 1
    assert recs[0]['gt_spans'] == [[0, 0], [2, 2]] and recs[0]['gt_coverage'] == 0.5
    assert recs[0]['mplus_iou'] == pytest.approx(1 / 3)
    assert 'gt_spans' not in recs[1]


def test_make_report_tool(tmp_path):
    fx = _fixture()
    fx['write_split'](tmp_path / 'gt')
    fx['write_preds'](tmp_path / 'pred')
    summary, records = evaluate_predictions(tmp_path / 'gt', tmp_path / 'pred', nproc=1,
                                            progress=False)
    write_report(tmp_path / 'report.json', records, summary)
    assert load_report(tmp_path / 'report.json')['num_expressions'] == 7
    _moments(tmp_path / 'moments.json', {
        'a': {'expressions': {e: {'objects': {'1': [[0, 0]]}} for e in '01234'}},
        'c': {'expressions': {'0': {'video': [[0, 2]]}}}})
    main = tool('analysis', 'make_report.py')
    out = tmp_path / 'out'
    assert main([str(tmp_path / 'report.json'), '--out-dir', str(out), '--moments',
                 str(tmp_path / 'moments.json'), '--timelines', '3']) == 0
    assert (out / 'per_expression.csv').read_text().count('\n') == 8
    assert cv2.imread(str(out / 'jf_vs_coverage.png')) is not None
    bins = json.loads((out / 'coverage_bins.json').read_text())
    assert sum(b['count'] for b in bins) == 6
    assert len(list((out / 'timelines').glob('*.png'))) == 3
    assert main([str(tmp_path / 'report.json'), '--out-dir', str(out), '--expressions',
                 'a/9']) == 2


def test_render_overlay_tool(tmp_path):
    fx = _fixture()
    fx['write_split'](tmp_path / 'gt')
    fx['write_preds'](tmp_path / 'pred')
    for t in range(2):
        p = tmp_path / 'gt' / 'JPEGImages' / 'a' / f'{t:05d}.jpg'
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.full((fx['H'], fx['W'], 3), 90 + 40 * t, np.uint8))
    main = tool('analysis', 'render_overlay.py')
    out = tmp_path / 'overlay.png'
    assert main(['--split-dir', str(tmp_path / 'gt'), '--pred-dir', str(tmp_path / 'pred'),
                 '--video', 'a', '--exp', '1', '--out', str(out), '--tile-width', '64']) == 0
    img = cv2.imread(str(out))
    # title bar 26 + two rows (prediction, ground truth) of 22 + 64 * 12 / 16 = 48; 2 frames of 64
    assert img.shape == (26 + 2 * (22 + 48), 2 * 64, 3)
    assert main(['--split-dir', str(tmp_path / 'gt'), '--pred-dir', str(tmp_path / 'pred'),
                 '--video', 'zz', '--exp', '1', '--out', str(out)]) == 2
