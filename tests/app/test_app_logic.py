"""The demo's library side without a browser: inputs checked, a request run through the
streaming API, the masks zipped, the timeline figure, the synthetic examples."""
from __future__ import annotations

import json
import os
import zipfile

import cv2
import numpy as np
import pytest

from tgl_mm.app.examples import make_examples
from tgl_mm.app.inputs import (
    AppInputError,
    check_video,
    grounding_config,
    parse_sentences,
    parse_span_lines,
)
from tgl_mm.app.session import RequestFolders, run_request, zip_masks
from tgl_mm.app.timeline import timeline_figure


def test_sentences_one_per_line():
    assert parse_sentences('  the  red circle \n\n the square jumping\n') == [
        'the red circle', 'the square jumping']
    for empty in ('', '   \n \n', None):
        with pytest.raises(AppInputError, match='Sentences: type at least one sentence'):
            parse_sentences(empty)


def test_span_lines():
    assert parse_span_lines('3-5\n', 2) == ['3-5']
    assert parse_span_lines('3-5\n\n7', 2) == ['3-5', '7']
    with pytest.raises(AppInputError, match='M\\+ spans: oracle grounding needs spans'):
        parse_span_lines(' ', 2)
    with pytest.raises(AppInputError, match='M\\+ spans: 3 lines for 2 sentences'):
        parse_span_lines('1\n2\n3', 2)


def test_check_video(tmp_path):
    with pytest.raises(AppInputError, match='Video: upload a video'):
        check_video(None)
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(AppInputError, match='notes.txt is not a video file'):
        check_video(tmp_path / 'notes.txt')
    with pytest.raises(AppInputError, match='gone.mp4 is gone'):
        check_video(tmp_path / 'gone.mp4')


def test_grounding_config(tmp_path):
    assert grounding_config('none', 2) == ('none', [])
    assert grounding_config('tam', 1) == ('tam', [])
    assert grounding_config('oracle', 2, '1-3') == ('oracle', ['1-3'])
    with pytest.raises(AppInputError, match="Grounding: unknown 'keyframes'"):
        grounding_config('keyframes', 1)
    with pytest.raises(AppInputError, match='Prediction file: moment_retrieval grounding needs'):
        grounding_config('moment_retrieval', 1)
    good = tmp_path / 'mr.jsonl'
    good.write_text(json.dumps({'qid': 'video/0', 'pred_relevant_windows': [[2, 5, 0.9]]}))
    config, specs = grounding_config('moment_retrieval', 1, pred_file=good, top_k=2)
    assert config == dict(type='moment_retrieval', pred_file=str(good), top_k=2) and specs == []
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(json.dumps({'qid': 'video/0', 'pred_relevant_windows': [[5, 2]]}))
    with pytest.raises(AppInputError, match=r'Prediction file: .*bad.jsonl:1: query '
                       r"'video/0': window 0"):
        grounding_config('moment_retrieval', 1, pred_file=bad)


def test_request_outputs_and_zip(tiny_app_files, tmp_path):
    """A request with oracle spans: a VP8 WebM overlay with every frame, the record's M+ as
    typed, and a zip with one PNG per frame per sentence (0/255 at the video's size)."""
    num = tiny_app_files['num_frames']
    folders = RequestFolders(tmp_path / 'requests')
    result = run_request(tiny_app_files['model'], tiny_app_files['video'],
                         ['the red circle', 'the square'], folders.new(), 'oracle',
                         ['2-4', '6,9-10'], progress=False)
    record = result.record
    assert [s['mplus_spans'] for s in record['sentences']] == [[[2, 4]], [[6, 6], [9, 10]]]
    assert result.overlay.name == 'overlay.webm'
    capture = cv2.VideoCapture(str(result.overlay))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == num
    with zipfile.ZipFile(result.masks_zip) as archive:
        names = set(archive.namelist())
        assert names == {f'masks/{k}/{t:05d}.png' for k in range(2) for t in range(num)} | {
            'result.json'}
        assert json.loads(archive.read('result.json')) == record
        png = cv2.imdecode(np.frombuffer(archive.read('masks/1/00003.png'), np.uint8),
                           cv2.IMREAD_UNCHANGED)
    assert png.shape == (72, 96) and set(np.unique(png)) <= {0, 255}
    assert not [p for p in result.folder.iterdir() if p.name.startswith('.')]


def test_zip_names_missing_mask(tmp_path):
    record = dict(num_frames=2, sentences=[dict(index=0)])
    (tmp_path / 'masks' / '0').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'masks' / '0' / '00000.png'), np.zeros((4, 4), np.uint8))
    with pytest.raises(FileNotFoundError, match='00001.png'):
        zip_masks(tmp_path, record)
    assert not list(tmp_path.glob('*.zip')) and not list(tmp_path.glob('.masks.zip*'))


def test_request_folders_keep_the_newest(tmp_path):
    folders = RequestFolders(tmp_path, keep=2)
    made = []
    for i in range(4):
        made.append(folders.new())
        os.utime(made[-1], (i, i))  # distinct ages whatever the clock resolution
    assert sorted(tmp_path.iterdir()) == sorted(made[2:])
    with pytest.raises(ValueError, match='keep must be >= 1'):
        RequestFolders(tmp_path, keep=0)


def test_timeline_figure_rows_spans_and_tam():
    sentences = [
        dict(index=0, text='a', mplus_frames=[1, 2], mplus_spans=[[1, 2]],
             object_scores=[0.5, 1.0, -1.0, 2.0], frame_scores=None),
        dict(index=1, text='b', mplus_frames=[0, 3], mplus_spans=[[0, 0], [3, 3]],
             object_scores=[1.0, 1.0, 1.0, 1.0], frame_scores=[0.1, -0.2, 0.3, 0.4]),
    ]
    fig = timeline_figure(dict(num_frames=4, grounding='tam', sentences=sentences))
    first, second = fig.axes
    assert len(first.lines) == 2 and len(second.lines) == 3   # scores (+ TAM) + zero line
    assert list(first.lines[0].get_ydata()) == [0.5, 1.0, -1.0, 2.0]
    assert list(second.lines[1].get_ydata()) == [0.1, -0.2, 0.3, 0.4]
    assert len(first.patches) == 1 and len(second.patches) == 2   # one shaded span per run
    assert first.get_title(loc='left').startswith('0: a  (M+: 2 of 4')


def test_examples_with_their_moments(tiny_app_files, tmp_path):
    """The synthetic examples are playable MP4s whose spans run as oracle grounding."""
    examples = make_examples(tmp_path, count=2, num_frames=14, size=(96, 72))
    assert [e.video.name for e in examples] == ['synthetic_0.mp4', 'synthetic_1.mp4']
    for example in examples:
        assert example.sentences and len(example.spans) == len(example.sentences)
        capture = cv2.VideoCapture(str(example.video))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == 14
    example = examples[0]
    result = run_request(tiny_app_files['model'], example.video, example.sentences,
                         tmp_path / 'out', 'oracle', example.spans, progress=False)
    for sentence, spec in zip(result.record['sentences'], example.spans):
        assert ','.join(f'{a}-{b}' for a, b in sentence['mplus_spans']) == spec


def test_tam_grounding_scores_reach_the_plot(tiny_app_files, tiny_tam_model, tmp_path):
    """With ``tam`` grounding the record carries the TAM's per-frame scores, and the timeline
    draws them (dashed) beside the object scores; a model without a TAM refuses ``tam``."""
    result = run_request(tiny_tam_model, tiny_app_files['video'], ['the red circle'],
                         tmp_path / 'tam', 'tam', progress=False)
    (sentence,) = result.record['sentences']
    assert result.record['grounding'] == 'tam'
    assert len(sentence['frame_scores']) == tiny_app_files['num_frames']
    (ax,) = timeline_figure(result.record).axes
    assert [line.get_linestyle() for line in ax.lines] == ['-', '--', '-']
    assert list(ax.lines[1].get_ydata()) == sentence['frame_scores']
    with pytest.raises(ValueError, match='needs a TAM'):
        run_request(tiny_app_files['model'], tiny_app_files['video'], ['x'], tmp_path / 'no',
                    'tam', progress=False)
