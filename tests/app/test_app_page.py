"""The page's request handler without a browser (needs gradio): results, and every failure as a
message in the status box instead of an exception."""
from __future__ import annotations

import shutil
import zipfile

import pytest

pytest.importorskip('gradio', reason='the app extra is not installed: pip install -e .[app]')

from tgl_mm.app.markup import unescape_markdown  # noqa: E402
from tgl_mm.app.page import DemoApp, error_message  # noqa: E402


@pytest.fixture(scope='module')
def app(tiny_app_files, tmp_path_factory):
    return DemoApp(tiny_app_files['model'], tmp_path_factory.mktemp('app_work'), num_examples=1)


def no_progress(*args, **kwargs) -> None:
    """Stands in for ``gr.Progress`` outside a running page."""


def test_segment_returns_overlay_plot_zip(app, tiny_app_files):
    status, overlay, figure, masks_zip = app.segment(
        str(tiny_app_files['video']), 'the red circle\n', 'none', '', None, 1, no_progress)
    assert status.startswith('**Done:** 12 frames x 1 sentence(s), grounding `none`')
    assert overlay.endswith('overlay.webm') and len(figure.axes) == 1
    with zipfile.ZipFile(masks_zip) as archive:
        assert sum(n.endswith('.png') for n in archive.namelist()) == 12


def test_errors_become_messages(app, tiny_app_files, tmp_path):
    corrupt = tmp_path / 'upload' / 'corrupt.mp4'
    corrupt.parent.mkdir()
    corrupt.write_bytes(b'\x00not a video\xff' * 64)
    video = str(tiny_app_files['video'])
    cases = [
        ((str(corrupt), 'the red circle', 'none', '', None, 1), 'corrupt.mp4'),
        ((video, ' \n ', 'none', '', None, 1), 'Sentences: type at least one sentence'),
        ((video, 'a', 'oracle', '', None, 1), 'M+ spans: oracle grounding needs spans'),
        ((video, 'a', 'oracle', '40-50', None, 1), "span '40-50' is out of range"),
        ((video, 'a', 'tam', '', None, 1), 'needs a TAM'),
        ((video, 'a', 'moment_retrieval', '', None, 1), 'Prediction file: moment_retrieval'),
        ((None, 'a', 'none', '', None, 1), 'Video: upload a video'),
    ]
    for args, expected in cases:
        status, overlay, figure, masks_zip = app.segment(*args, no_progress)
        assert status.startswith('**Error:** ') and expected in unescape_markdown(status), \
            (args, status)
        assert overlay is None and figure is None and masks_zip is None
    status = app.segment(str(corrupt), 'a', 'none', '', None, 1, no_progress)[0]
    assert str(corrupt.parent) not in status   # the server's upload folder is not shown


def test_unexpected_error_is_reported_and_logged(app, tiny_app_files, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError('boom')

    monkeypatch.setattr('tgl_mm.app.page.run_request', broken)
    status = app.segment(str(tiny_app_files['video']), 'a', 'none', '', None, 1,
                         no_progress)[0]
    assert status == '**Error:** unexpected RuntimeError: boom (details in the server log)'
    assert 'request failed' in caplog.text


def test_error_message_hides_server_paths():
    error = ValueError('cannot decode /srv/gradio/abc/clip.mp4 (codec)')
    assert error_message(error, {'/srv/gradio/abc/clip.mp4': 'clip.mp4'}) == \
        'cannot decode clip.mp4 (codec)'
    assert error_message(KeyError('no prediction for video/0'), {}) == \
        'no prediction for video/0'


def test_example_fills_the_inputs(app, tmp_path):
    example = app.examples[0]
    video, sentences, grounding, spans = app.example(example.name)
    assert video == str(example.video) and grounding == 'oracle'
    assert sentences.splitlines() == example.sentences and spans.splitlines() == example.spans
    copy = tmp_path / 'example.mp4'
    shutil.copy(video, copy)
    status = app.segment(str(copy), sentences, grounding, spans, None, 1, no_progress)[0]
    assert status.startswith('**Done:**') and 'grounding `oracle`' in status


def test_the_model_runs_one_request_at_a_time(app):
    """The segment event is queued with a concurrency limit of 1 (the browser test checks that
    two requests sent at once are both answered)."""
    page = app.build()
    (segment,) = [fn for fn in page.fns.values() if fn.api_name == 'segment']
    assert segment.queue is not False and segment.concurrency_limit == 1
    (example,) = [fn for fn in page.fns.values() if fn.api_name == 'example']
    assert example.concurrency_limit is None   # filling an example never waits for the model
