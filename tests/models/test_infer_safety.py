"""Inference that never answers wrong in silence (issue 22): frame order, open spans, spans a
grounding ignores, windows in seconds, an output folder owned by one run, stale staging folders,
SIGTERM, long and invisible sentences, self-grounding by default, one-line tool errors."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tgl_mm.apis import segment_video
from tgl_mm.apis.grounding_choice import (
    NO_TAM_WARNING,
    check_spans_used,
    declared_unit,
    resolve_time_units,
)
from tgl_mm.apis.output_dir import OutputBusyError, OutputLock
from tgl_mm.apis.streaming import clean_texts, long_sentence_warnings
from tgl_mm.apis.video_io import FolderSource, natural_key, open_frames
from tgl_mm.apis.video_outputs import infer_video, parse_spans, read_texts_file
from tgl_mm.testing import with_random_tam
from tgl_mm.utils.cli import SIGTERM_STATUS, sigterm_exits

REPO = Path(__file__).resolve().parents[2]
NUM_FRAMES = 10


def load_tool(name: str = 'infer'):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tiny_infer_files):
    return tiny_infer_files


@pytest.fixture(scope='module')
def tam_model(setup):
    return with_random_tam(setup['config'])


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return path


# ------------------------------------------------------------------------- frame folders
def test_frame_folder_natural_order_skips_appledouble(tmp_path):
    """frame_2 comes before frame_10, and macOS ``._*`` files are not frames."""
    for i in range(12):
        value = 10 * i
        cv2.imwrite(str(tmp_path / f'frame_{i}.png'), np.full((4, 6, 3), value, np.uint8))
    (tmp_path / '._frame_0.jpg').write_bytes(b'\x00\x05\x16\x07 AppleDouble')
    source = FolderSource(tmp_path)
    assert [p.name for p in source.files] == [f'frame_{i}.png' for i in range(12)]
    values = [int(frame[0, 0, 0]) for frame in source]
    assert values == [10 * i for i in range(12)]
    assert sorted(['f10', 'f2', 'f1'], key=natural_key) == ['f1', 'f2', 'f10']
    assert not source.fps_known and open_frames(tmp_path, fps=12.5).fps == 12.5


# ------------------------------------------------------------------------- spans
def test_open_span_runs_to_the_end():
    assert np.flatnonzero(parse_spans('3-', 6)).tolist() == [3, 4, 5]
    assert np.flatnonzero(parse_spans('0-1, 4-', 6)).tolist() == [0, 1, 4, 5]
    assert np.flatnonzero(parse_spans('3', 6)).tolist() == [3]
    with pytest.raises(ValueError, match='out of range'):
        parse_spans('6-', 6)
    with pytest.raises(ValueError, match=r'M\+ spans span .-2. is not'):
        parse_spans('-2', 6, 'M+ spans')


def test_spans_with_a_grounding_that_ignores_them_are_refused(setup, tmp_path):
    model = setup['model']
    with pytest.raises(ValueError, match="--mplus spans were given, but grounding 'none'"):
        infer_video(model, setup['video'], ['a'], tmp_path / 'o', grounding='none',
                    mplus_specs=['2-3'], progress=False)
    with pytest.raises(ValueError, match="grounding 'oracle' takes M\\+ from the --mplus"):
        infer_video(model, setup['video'], ['a'], tmp_path / 'o', grounding='oracle',
                    progress=False)
    with pytest.raises(ValueError, match="does not read them"):
        segment_video(model, setup['video'], 'a', grounding='none',
                      mplus=np.ones(NUM_FRAMES, bool))
    check_spans_used(dict(type='hybrid', span=dict(type='oracle'), keyframes=None), True)
    assert not (tmp_path / 'o' / 'result.json').exists()


# ------------------------------------------------------------------------- windows in seconds
def test_windows_in_seconds_use_the_videos_fps(setup, tmp_path):
    """[0.25, 0.75) s at 8 fps is frames 2-5; read as frames it would have been frame 0."""
    seconds = write_jsonl(tmp_path / 'sec.jsonl', [
        {'qid': 'video/0', 'pred_relevant_windows': [[0.25, 0.75, 0.9]], 'unit': 'seconds'}])
    record = infer_video(setup['model'], setup['video'], ['the blue square'], tmp_path / 'out',
                         grounding=dict(type='moment_retrieval', pred_file=str(seconds)),
                         overlay=False, progress=False)
    assert record['grounding'] == 'moment_retrieval'
    assert record['sentences'][0]['mplus_frames'] == [2, 3, 4, 5]
    undeclared = write_jsonl(tmp_path / 'plain.jsonl', [
        {'qid': 'video/0', 'pred_relevant_windows': [[0.29, 0.71, 0.9]]}])
    with pytest.raises(ValueError, match=r"plain.jsonl:1: query 'video/0': window \[0.29, "
                       r"0.71\) is fractional.*8 fps"):
        infer_video(setup['model'], setup['video'], ['x'], tmp_path / 'bad',
                    grounding=dict(type='moment_retrieval', pred_file=str(undeclared)),
                    overlay=False, progress=False)
    record = infer_video(setup['model'], setup['video'], ['x'], tmp_path / 'out2',
                         grounding=dict(type='moment_retrieval', pred_file=str(undeclared),
                                        unit='seconds'), overlay=False, progress=False)
    assert record['sentences'][0]['mplus_frames'] == [3, 4, 5]   # [2.32, 5.68) in frames


def test_time_unit_rules(tmp_path):
    mixed = write_jsonl(tmp_path / 'mixed.jsonl', [
        {'qid': 'v/0', 'pred_relevant_windows': [[1, 2]], 'unit': 'seconds'},
        {'qid': 'v/1', 'pred_relevant_windows': [[1, 2]], 'unit': 'frames'}])
    with pytest.raises(ValueError, match='mixed.jsonl:2: "unit" .frames. differs'):
        declared_unit(mixed)
    frames = write_jsonl(tmp_path / 'frames.jsonl', [
        {'qid': 'v/0', 'pred_relevant_windows': [[1, 4.0]]}])
    cfg = dict(type='moment_retrieval', pred_file=str(frames))
    assert resolve_time_units(cfg, 25.0) == cfg          # whole numbers: frames, unchanged
    hybrid = dict(type='hybrid', span=dict(cfg, unit='seconds'), keyframes=None)
    assert resolve_time_units(hybrid, 25.0)['span']['fps'] == 25.0
    with pytest.raises(ValueError, match='no frame rate of its own'):
        resolve_time_units(dict(cfg, unit='seconds'), 25.0, fps_known=False, where='frames/')
    with pytest.raises(ValueError, match='declares its windows in seconds'):
        resolve_time_units(dict(type='moment_retrieval', pred_file=str(write_jsonl(
            tmp_path / 's.jsonl', [{'qid': 'v/0', 'pred_relevant_windows': [[1, 2]],
                                   'unit': 'seconds'}])), unit='frames'), 25.0)


# ------------------------------------------------------------------------- the output folder
def test_a_run_owns_its_out(setup, tmp_path):
    """A rerun without the overlay leaves no old overlay; a second live run is refused; stale
    staging folders of dead runs go; --out that is a file is an error naming it."""
    out = tmp_path / 'out'
    infer_video(setup['model'], setup['video'], ['a'], out, grounding='none', progress=False)
    capture = cv2.VideoCapture(str(out / 'overlay.mp4'))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape == (40, 56, 3)     # the overlay keeps the video's exact size
    stale = out / '.partial-999999999'
    stale.mkdir()
    (stale / '.frames-abc.u8').write_bytes(b'\x00' * 1000)
    record = infer_video(setup['model'], setup['video'], ['a', 'b'], out, grounding='none',
                         overlay=False, progress=False)
    assert not (out / 'overlay.mp4').exists() and len(record['sentences']) == 2
    assert not list(out.glob('.partial-*'))
    busy = pytest.raises(OutputBusyError, match=f'{out} is in use by another run .pid '
                         f'{os.getpid()}')
    with OutputLock(out), busy:
        infer_video(setup['model'], setup['video'], ['a'], out, grounding='none',
                    progress=False)
    assert json.loads((out / 'result.json').read_text()) == record   # untouched by the refusal
    afile = tmp_path / 'afile'
    afile.write_text('x')
    with pytest.raises(NotADirectoryError, match='afile is a file'):
        infer_video(setup['model'], setup['video'], ['a'], afile, grounding='none',
                    progress=False)


class NotHandled(Exception):
    """SIGTERM reached the test's own handler: the code under test installed none."""


def test_sigterm_cleans_up_like_ctrl_c(setup, tmp_path, monkeypatch):
    """SIGTERM during tools/infer.py unwinds like Ctrl-C: exit status 143, no staging folder
    (with the frame spill inside it), no result.json; the previous handler comes back."""
    out = tmp_path / 'out'
    import tgl_mm.apis.video_outputs as vo

    def terminate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    def not_handled(signum, frame):
        raise NotHandled

    monkeypatch.setattr(vo, 'write_overlay', terminate)
    previous = signal.signal(signal.SIGTERM, not_handled)   # never the default: it would kill
    try:
        with pytest.raises(SystemExit) as code:
            load_tool().main([str(setup['config']), str(setup['ckpt']), str(setup['video']),
                              '--text', 'a', '--grounding', 'none', '--out', str(out)])
        assert signal.getsignal(signal.SIGTERM) is not_handled   # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code.value.code == SIGTERM_STATUS
    assert not list(out.glob('.partial-*')) and not (out / 'result.json').exists()
    assert not list(out.rglob('.frames-*'))
    with pytest.raises(SystemExit), sigterm_exits():     # the helper on its own
        os.kill(os.getpid(), signal.SIGTERM)


# ------------------------------------------------------------------------- sentences
def test_invisible_and_long_sentences(setup, tmp_path):
    with pytest.raises(ValueError, match='sentence 1 .* no visible character'):
        clean_texts(['the cat', '\u200b\u200b \u200b'])
    text_backbone = setup['model'].text_backbone
    limit = text_backbone.max_length
    long = ' '.join(['red'] * (limit + 10))
    count = len(text_backbone.tokenizer(long)['input_ids'])
    assert count > limit
    messages = long_sentence_warnings(text_backbone, ['short one', long])
    assert len(messages) == 1 and messages[0].startswith(
        f'sentence 1 has {count} tokens; the text encoder reads {limit}')
    kept = messages[0].split('keeps ')[1].strip("'")
    assert long.startswith(kept) and 0 < len(kept) < len(long)
    assert len(text_backbone.tokenizer(kept)['input_ids']) <= limit
    with pytest.warns(UserWarning, match='sentence 0 has'):
        record = infer_video(setup['model'], setup['video'], [long], tmp_path / 'o',
                             grounding='none', overlay=False, progress=False)
    assert any('sentence 0 has' in w for w in record['warnings'])


def test_texts_file_not_utf8_names_it(tmp_path):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('le caf\xe9 rouge\n'.encode('latin-1'))
    with pytest.raises(ValueError, match='latin1.txt is not UTF-8.*byte 0xe9'):
        read_texts_file(path)


# ------------------------------------------------------------------------- self-grounding
def test_default_grounding_is_the_models_tam(setup, tam_model, tmp_path):
    record = infer_video(tam_model, setup['video'], ['the blue square'], tmp_path / 'tam',
                         overlay=False, progress=False)
    assert record['grounding'] == 'tam' and record['warnings'] == []
    assert record['sentences'][0]['frame_scores'] is not None
    result = segment_video(tam_model, setup['video'], 'the blue square')
    assert result.grounding == 'tam' and result.frame_scores is not None
    with pytest.warns(UserWarning, match='cannot ground itself'):
        result = segment_video(setup['model'], setup['video'], 'the blue square')
    assert result.grounding == 'none' and result.warnings == [NO_TAM_WARNING]
    assert result.mplus.all()


# ------------------------------------------------------------------------- tools/infer.py
def test_infer_tool_prediction_file_and_printed_grounding(setup, tmp_path, capsys):
    pred = write_jsonl(tmp_path / 'mr.jsonl', [
        {'qid': 'video/0', 'pred_relevant_windows': [[2, 4, 0.9], [7, 9, 0.5]]}])
    record = load_tool().main([str(setup['config']), str(setup['ckpt']), str(setup['video']),
                               '--text', 'the blue square', '--pred-file', str(pred),
                               '--top-k', '2', '--no-overlay', '--out', str(tmp_path / 'o')])
    assert record['grounding'] == 'moment_retrieval'
    assert record['sentences'][0]['mplus_frames'] == [2, 3, 7, 8]
    assert '\ngrounding: moment_retrieval; 10 frames x 1 sentences' in capsys.readouterr().out
    tool = load_tool()
    with pytest.raises(ValueError, match='--grounding hybrid reads a prediction file'):
        tool.file_grounding('hybrid', None, None, None, None)
    with pytest.raises(ValueError, match="--top-k is read only by .*not by 'none'"):
        tool.file_grounding('none', None, 3, None, None)
    assert tool.file_grounding('hybrid', 'p.jsonl', 2, 'seconds', 3) == dict(
        type='hybrid', span=dict(type='moment_retrieval', pred_file='p.jsonl', top_k=2,
                                 unit='seconds'), keyframes=None, top_k=3)


def _run_infer(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('TGL_MM_DEBUG', None)
    return subprocess.run([sys.executable, 'tools/infer.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_infer_tool_errors_are_one_line(setup, tmp_path):
    """Each bad input ends in one ``error:`` line naming the problem, exit status 1."""
    config, ckpt, video = str(setup['config']), str(setup['ckpt']), str(setup['video'])
    afile = tmp_path / 'afile'
    afile.write_text('x')
    latin = tmp_path / 'latin1.txt'
    latin.write_bytes('caf\xe9\n'.encode('latin-1'))
    cases = [
        ([config, ckpt, str(tmp_path / 'nothing.mp4'), '--text', 'a'], 'nothing.mp4'),
        ([config, str(tmp_path / 'no.pth'), video, '--text', 'a'], 'checkpoint not found'),
        ([config, ckpt, video, '--text', 'a', '--out', str(afile)], 'afile is a file'),
        ([config, ckpt, video, '--text', 'a', '--mplus', 'x-2'], "span 'x-2' is not"),
        ([config, ckpt, video, '--texts-file', str(latin)], 'latin1.txt is not UTF-8'),
        ([config, ckpt, video, '--text', 'a', '--grounding', 'moment_retrieval'],
         'give --pred-file'),
        ([config, ckpt, video, '--text', 'a', '--grounding', 'oracle'], 'none were given'),
        ([config, ckpt, video, '--text', 'a', '--device', 'cuda'], "device 'cuda'"),
    ]
    for args, expected in cases:
        if '--out' not in args:
            args = [*args, '--out', str(tmp_path / 'out')]
        proc = _run_infer(*args)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 1, (args, proc.stderr)
        assert 'Traceback' not in proc.stderr, proc.stderr
        assert lines[-1].startswith('error: ') and expected in lines[-1], (args, lines[-1])
    proc = _run_infer(config, ckpt, video, '--text', 'a', '--mplus', 'x-2', '--out',
                      str(tmp_path / 'out'), '--debug')
    assert 'Traceback' in proc.stderr
