"""The demo's limits and safety without a browser (issue 22): what a request may cost, which
folders are served, text shown literally, the upload named by its own name, the model's own
grounding by default, and one-line start-up errors."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tgl_mm.apis.grounding_choice import NO_TAM_WARNING
from tgl_mm.apis.video_io import ArraySource, FrameSource, open_frames
from tgl_mm.app.inputs import AUTO, AppInputError, grounding_config
from tgl_mm.app.limits import (
    AppLimits,
    BudgetedSource,
    Deadline,
    RequestTimeout,
    check_declared_size,
    check_own_folders,
    check_sentence_count,
    check_upload_size,
    served_folders,
)
from tgl_mm.app.markup import escape_markdown, unescape_markdown
from tgl_mm.app.session import RequestFolders, run_request
from tgl_mm.app.timeline import timeline_figure

REPO = Path(__file__).resolve().parents[2]


class FakeClock:
    """A clock the test moves: each call returns the current time, then adds ``step``."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


class Declared(FrameSource):
    """A source that only declares its size (never decoded here)."""

    def __init__(self, count: int, height: int, width: int) -> None:
        self.name = 'declared.mp4'
        self.frame_count_hint = count
        self.shape_hint = (height, width)


# ------------------------------------------------------------------------------ limits
def test_sentence_count_and_upload_size(tmp_path):
    limits = AppLimits(max_sentences=2, max_upload_mb=1)
    check_sentence_count(['a', 'b'], limits)
    with pytest.raises(AppInputError, match='Sentences: 3 sentences; a request takes at most 2 '
                       r'\(tools/app.py --max-sentences\)'):
        check_sentence_count(['a', 'b', 'c'], limits)
    big = tmp_path / 'server-path' / 'big.mp4'
    big.parent.mkdir()
    big.write_bytes(b'\x00' * 1_500_000)
    with pytest.raises(AppInputError, match='Video: holiday.mp4 is 1.5 MB; uploads may be at '
                       'most 1 MB') as err:
        check_upload_size(big, limits, 'holiday.mp4')
    assert 'server-path' not in str(err.value)
    with pytest.raises(ValueError, match='AppLimits.max_seconds must be a positive number'):
        AppLimits(max_seconds=0)


def test_pixels_declared_and_decoded():
    limits = AppLimits(max_frame_megapixels=1.0, max_video_megapixels=2.0)
    check_declared_size(Declared(2, 1000, 1000), limits, 'ok.mp4')
    check_declared_size(Declared(0, 0, 0), limits, 'unknown.mp4')       # nothing declared
    with pytest.raises(AppInputError, match='Video: huge.mp4 has 8000 x 8000 frames'):
        check_declared_size(Declared(3, 8000, 8000), limits, 'huge.mp4')
    with pytest.raises(AppInputError, match=r'Video: long.mp4: 3 frames \(declared\) make 3 '
                       'megapixels'):
        check_declared_size(Declared(3, 1000, 1000), limits, 'long.mp4')
    frames = [np.zeros((1000, 1000, 3), np.uint8) for _ in range(3)]   # a lying container
    source = BudgetedSource(ArraySource(frames), limits, 'liar.mp4')
    seen = []
    with pytest.raises(AppInputError, match='Video: liar.mp4: the first 3 frames make 3 '
                       'megapixels'):
        for frame in source:
            seen.append(frame)
    assert len(seen) == 2
    wide = BudgetedSource(ArraySource([np.zeros((10, 200_000, 3), np.uint8)]), limits, 'w.mp4')
    with pytest.raises(AppInputError, match='Video: w.mp4 has 200000 x 10 frames'):
        list(wide)


def test_deadline_with_a_test_clock():
    clock = FakeClock(step=4.0)
    deadline = Deadline(10.0, clock)        # start at 0
    deadline.check()                        # 4
    deadline.check()                        # 8
    with pytest.raises(RequestTimeout, match=r'ran longer than 10 s and was stopped '
                       r'\(tools/app.py --max-seconds\)'):
        deadline.check()                    # 12


def test_request_is_stopped_by_its_time_limit(tiny_app_files, tmp_path):
    folder = tmp_path / 'request'
    with pytest.raises(RequestTimeout):
        run_request(tiny_app_files['model'], tiny_app_files['video'], ['the red circle'],
                    folder, 'none', progress=False, limits=AppLimits(max_seconds=5),
                    clock=FakeClock(step=1.0))
    assert not (folder / 'result.json').exists() and not list(folder.glob('.partial-*'))


def test_result_names_the_upload_not_the_server_path(tiny_app_files, tmp_path):
    upload = tmp_path / 'gradio' / '3f2a9c' / 'my clip.mp4'
    upload.parent.mkdir(parents=True)
    upload.write_bytes(Path(tiny_app_files['video']).read_bytes())
    folders = RequestFolders(tmp_path / 'requests')
    result = run_request(tiny_app_files['model'], upload, ['the red circle'], folders.new(),
                         'none', progress=False, limits=AppLimits())
    assert result.record['input'] == 'my clip.mp4'
    with zipfile.ZipFile(result.masks_zip) as archive:
        record = json.loads(archive.read('result.json'))
    assert record['input'] == 'my clip.mp4' and str(tmp_path) not in json.dumps(record)


# ------------------------------------------------------------------------------ self-grounding
def test_auto_grounding_is_the_models_own(tiny_app_files, tiny_tam_model, tmp_path):
    config, specs = grounding_config(AUTO, 1)
    assert config is None and specs == []
    record = run_request(tiny_tam_model, tiny_app_files['video'], ['the red circle'],
                         tmp_path / 'tam', config, progress=False).record
    assert record['grounding'] == 'tam' and record['warnings'] == []
    with pytest.warns(UserWarning, match='cannot ground itself'):
        record = run_request(tiny_app_files['model'], tiny_app_files['video'],
                             ['the red circle'], tmp_path / 'none', config,
                             progress=False).record
    assert record['grounding'] == 'none' and record['warnings'] == [NO_TAM_WARNING]


def test_spans_or_file_a_grounding_ignores_are_refused(tmp_path):
    with pytest.raises(AppInputError, match="M\\+ spans: only oracle grounding reads them, and "
                       "'tam' is chosen"):
        grounding_config('tam', 1, spans='3-')
    with pytest.raises(AppInputError, match="Prediction file: only moment_retrieval"):
        grounding_config(AUTO, 1, pred_file=tmp_path / 'x.jsonl')
    assert grounding_config('oracle', 1, spans='3-') == ('oracle', ['3-'])


# ------------------------------------------------------------------------------ serving
def test_only_the_apps_own_folders_are_served(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    (home / 'id_rsa').write_text('PRIVATE KEY')
    folders = check_own_folders(home)
    assert set(folders.values()) == set(served_folders(home).values())
    for folder in folders.values():
        assert folder.parent == home.resolve() and folder.is_dir()
    private = (home / 'id_rsa').resolve()
    assert not any(private.is_relative_to(folder) for folder in folders.values())
    (home / 'requests' / 'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match='requests holds files the app did not make '
                       r'\(notes.txt\)'):
        check_own_folders(home)
    afile = tmp_path / 'afile'
    afile.write_text('x')
    with pytest.raises(NotADirectoryError, match='--work-dir .*afile is a file'):
        check_own_folders(afile)


def test_request_folders_and_examples_pass_the_check(tiny_app_files, tmp_path):
    from tgl_mm.app.examples import make_examples

    folders = check_own_folders(tmp_path)
    RequestFolders(folders['requests']).new()
    make_examples(folders['examples'], 1, num_frames=6)
    check_own_folders(tmp_path)   # what the app made is accepted


# ------------------------------------------------------------------------------ literal text
def test_plot_draws_sentences_literally():
    text = 'the $x^2$ circle costs $5 and \\frac{a}{ $'   # the second "math" is invalid
    record = dict(num_frames=3, grounding='none', sentences=[dict(
        index=0, text=text, mplus_spans=[[0, 2]], mplus_frames=[0, 1, 2],
        object_scores=[0.1, 0.2, 0.3], frame_scores=None)])
    fig = timeline_figure(record)
    fig.savefig(io.BytesIO(), format='png')     # math mode fails on the second "$...$"
    shown = [t for t in fig.findobj(lambda a: hasattr(a, 'get_parse_math'))
             if text in t.get_text()]
    assert shown and all(not t.get_parse_math() for t in shown)


def test_page_text_is_escaped():
    raw = '<img src=x onerror=alert(1)> $x$ **bold** [link](http://x) a_b | c ` d \\ e'
    escaped = escape_markdown(raw)
    bare = re.sub(r'\\.', '', escaped)      # what is left outside backslash escapes
    assert not set(bare) & set('<>`*_[]$|~\\'), bare
    assert unescape_markdown(escaped) == raw
    assert escape_markdown('line one\nline two') == 'line one line two'


# ------------------------------------------------------------------------------ tools/app.py
def _run_app(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('TGL_MM_DEBUG', None)
    return subprocess.run([sys.executable, 'tools/app.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _one_line(proc: subprocess.CompletedProcess, expected: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr
    assert lines[-1].startswith('error: ') and expected in lines[-1], lines[-1]


def test_app_start_up_errors_are_one_line(tiny_app_files, tmp_path):
    config, ckpt = str(tiny_app_files['config']), str(tiny_app_files['checkpoint'])
    afile = tmp_path / 'afile'
    afile.write_text('x')
    _one_line(_run_app(config, ckpt, '--work-dir', str(afile)), 'afile is a file')
    _one_line(_run_app(config, ckpt, '--max-sentences', '0', '--work-dir', str(tmp_path / 'w')),
              'AppLimits.max_sentences must be a positive number')
    proc = _run_app(config, ckpt, '--work-dir', str(afile), '--debug')
    assert 'Traceback' in proc.stderr


def test_app_without_the_extra_or_checkpoint_is_one_line(tiny_app_files, tmp_path):
    config = str(tiny_app_files['config'])
    try:
        import gradio  # noqa: F401
    except ImportError:
        _one_line(_run_app(config, 'none', '--work-dir', str(tmp_path / 'w')),
                  'tools/app.py needs the app extra')
    else:
        _one_line(_run_app(config, str(tmp_path / 'no.pth'), '--work-dir',
                           str(tmp_path / 'w'), '--examples', '0'), 'checkpoint not found')
        _one_line(_run_app(config, 'none', '--device', 'cuda:7', '--work-dir',
                           str(tmp_path / 'w2'), '--examples', '0'), "device 'cuda:7'")
    assert open_frames(tiny_app_files['video']).fps_known
