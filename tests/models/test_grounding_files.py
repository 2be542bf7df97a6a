"""Grounding prediction files are validated when loaded; reports never hold bare NaN."""
from __future__ import annotations

import json
import logging

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from tgl_mm.models.grounding import (
    KeyframeGrounding,
    MomentRetrievalGrounding,
    PredictionFileError,
)
from tgl_mm.structures import VideoDataSample


def _sample(t: int = 10) -> VideoDataSample:
    return VideoDataSample(metainfo=dict(video_id='v1', exp_id='3', has_moments=True,
                                         frame_names=[f'{i:05d}' for i in range(t)]))


def _write(path, lines: list[str]) -> str:
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


GOOD_MR = '{"qid": "v0/0", "pred_relevant_windows": [[1, 3, 0.5]]}'
GOOD_KF = '{"qid": "v0/0", "frame_scores": [0.1, 0.2]}'


@pytest.mark.parametrize('windows, reason', [
    ('[[10, 4, 0.9]]', r'window 0 \[10, 4\) must have 0 <= start < end'),
    ('[[-3, 4]]', r'window 0 \[-3, 4\) must have 0 <= start < end'),
    ('[]', 'pred_relevant_windows must be a non-empty list'),
    ('[[NaN, 4]]', 'window 0 start must be finite'),
    ('[["2", 4]]', "window 0 start must be a number, got '2'"),
    ('[[2, 4, "high"]]', 'window 0 score must be a number'),
    ('[[2]]', r'window 0 must be \[start, end\]'),
    ('"2-4"', 'pred_relevant_windows must be a non-empty list'),
])
def test_bad_windows_are_refused_at_load(tmp_path, windows, reason):
    path = _write(tmp_path / 'mr.jsonl',
                  [GOOD_MR, f'{{"qid": "v1/3", "pred_relevant_windows": {windows}}}'])
    with pytest.raises(PredictionFileError, match=f"mr.jsonl:2: query 'v1/3': {reason}"):
        MomentRetrievalGrounding(path)  # at construction: no query needed


@pytest.mark.parametrize('scores, reason', [
    ('[NaN, NaN, NaN]', 'frame score 0 must be finite'),
    ('[[0.1, 0.2], [0.3]]', 'frame score 0 must be a number'),
    ('["0.1", "0.2"]', "frame score 0 must be a number, got '0.1'"),
    ('[]', 'frame_scores must be a non-empty flat list'),
    ('[0.5, Infinity]', 'frame score 1 must be finite'),
])
def test_bad_scores_are_refused_at_load(tmp_path, scores, reason):
    path = _write(tmp_path / 'kf.jsonl', [GOOD_KF, f'{{"qid": "v1/3", "frame_scores": {scores}}}'])
    with pytest.raises(PredictionFileError, match=f"kf.jsonl:2: query 'v1/3': {reason}"):
        KeyframeGrounding(path)


@pytest.mark.parametrize('fps', [0, -2.0, float('nan'), '25'])
def test_fps_must_be_positive(tmp_path, fps):
    path = _write(tmp_path / 'mr.jsonl', [GOOD_MR])
    with pytest.raises(ValueError, match='fps must be a positive number'):
        MomentRetrievalGrounding(path, fps=fps)


def test_windows_past_the_video_are_clipped_with_a_count(tmp_path):
    path = _write(tmp_path / 'mr.jsonl', [
        '{"qid": "v1/3", "pred_relevant_windows": [[7, 15, 0.9], [8, 40, 0.2]]}'])
    grounding = MomentRetrievalGrounding(path, top_k=2)
    logger = MMLogger.get_current_instance()
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    try:
        mplus = grounding(_sample(10)).mplus
    finally:
        logger.removeHandler(handler)
    assert mplus.nonzero().flatten().tolist() == [7, 8, 9]
    assert grounding.num_clipped == 2
    assert any("query 'v1/3': 2 window(s) end after the video's 10 frames" in r for r in records)
    beyond = _write(tmp_path / 'beyond.jsonl', ['{"qid": "v1/3", "pred_relevant_windows": '
                                                '[[12, 15]]}'])
    with pytest.raises(PredictionFileError, match="beyond.jsonl: query 'v1/3': every window"):
        MomentRetrievalGrounding(beyond)(_sample(10))


def test_test_tool_checks_grounding_files_before_the_model(tmp_path):
    from tgl_mm.engine import check_grounding_files

    bad = _write(tmp_path / 'kf.jsonl', ['{"qid": "v1/3", "frame_scores": [NaN]}'])
    cfg = Config(dict(default_scope='tgl_mm', model=dict(type='NotBuilt', test_cfg=dict(
        grounding=dict(type='hybrid', span=dict(type='oracle'),
                       keyframes=dict(type='keyframes', pred_file=bad))))))
    with pytest.raises(PredictionFileError, match='kf.jsonl:1'):
        check_grounding_files(cfg)


def test_reports_hold_no_bare_nan(tmp_path):
    from tgl_mm.evaluation.report import write_report

    record = dict(video_id='v1', exp_id='3', text='x', num_frames=3, J=50.0, F=float('nan'),
                  frame_scores=[float('nan')] * 3, mplus_iou=float('inf'))
    paths = write_report(tmp_path / 'rvos_report.json', [record], dict(J=50.0, F=float('nan')))
    text = paths['json'].read_text()

    def refuse(name: str):
        raise AssertionError(f'bare {name} in the report')

    report = json.loads(text, parse_constant=refuse)
    row = report['per_expression'][0]
    assert report['F'] is None
    assert row['F'] is None and row['frame_scores'] == [None] * 3 and row['mplus_iou'] is None
