"""The tools end in one line (no traceback) on bad input; --debug keeps the traceback; a
misspelled --cfg-options key is an error suggesting the nearest key."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from tgl_mm.engine import check_cfg_option_keys
from tgl_mm.utils.cli import error_line, run_tool

REPO = Path(__file__).resolve().parents[2]
TINY = 'configs/tgl/tgl_tiny_synthetic.py'


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _one_line_error(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(('error', 'usage', 'train',
                                                                      'test', 'eval'))]
    assert any(words in ln for ln in lines), proc.stderr[-2000:]


@pytest.mark.parametrize('key, suggestion', [
    ('test_dataloadr.batch_size', "did you mean 'test_dataloader'?"),
    ('train_dataloader.batch_sise', "did you mean 'train_dataloader.batch_size'?"),
    ('train_dataloader.datset.split', "did you mean 'train_dataloader.dataset'?"),
])
def test_misspelled_cfg_option_suggests_the_nearest_key(key, suggestion):
    cfg = Config.fromfile(str(REPO / TINY))
    with pytest.raises(ValueError, match=f'--cfg-options {key}: .*{suggestion}'):
        check_cfg_option_keys(cfg, {key: 4})
    # runner arguments and new nested keys are fine
    check_cfg_option_keys(cfg, {'randomness.seed': 1, 'experiment_name': 'x',
                                'model.test_cfg.grounding.top_k': 2, 'load_strict': False})


def test_run_tool_prints_one_line_and_keeps_tracebacks_behind_debug(capsys):
    def main(argv):
        raise ValueError('file x.json, video v1: bad\nsecond line')

    assert run_tool(main, []) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err
    assert err.startswith('error: ValueError: file x.json, video v1: bad | second line')
    with pytest.raises(ValueError):
        run_tool(main, ['--debug'])
    assert error_line(KeyError('no prediction for q')) == 'error: KeyError: no prediction for q'


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_argument_errors_are_usage_lines(tmp_path, capsys):
    with pytest.raises(SystemExit) as code:
        _tool('test').parse_args([TINY, 'x.pth', '--cfg-options', 'test_dataloader.batch_size'])
    assert code.value.code == 2
    assert "--cfg-options: expected KEY=VALUE, got 'test_dataloader.batch_size'" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        _tool('eval_rvos').parse_args(['--gt-root', str(tmp_path), '--pred-dir', str(tmp_path),
                                       '--out', str(tmp_path)])
    assert 'is a directory; give the report JSON path' in capsys.readouterr().err


def test_tools_end_in_one_line(tmp_path):
    proc = _run('tools/train.py', TINY, '--work-dir', str(tmp_path),
                '--cfg-options', 'test_dataloadr.batch_size=4')
    _one_line_error(proc, "did you mean 'test_dataloader'?")
    assert proc.returncode == 1


@pytest.mark.slow
def test_zero_size_frame_in_a_test_run_is_one_line(tmp_path):
    """A 0x0 frame reached during tools/test.py (model built, data read) ends in one line."""
    from tgl_mm.apis import init_model
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m

    data = tmp_path / 'data'
    make_synthetic_mevis_m(data, num_videos=1, num_valid_u=1, num_valid=1, size=64,
                           min_frames=6, max_frames=6, progress=False, log=None)
    frame = sorted((data / 'valid_u' / 'JPEGImages').glob('*/*.jpg'))[0]
    ok, png = cv2.imencode('.png', np.zeros((1, 1, 3), np.uint8))
    raw = bytearray(png.tobytes())
    raw[16:24] = bytes(8)  # width = height = 0
    frame.write_bytes(bytes(raw))
    import torch

    ckpt = tmp_path / 'init.pth'
    torch.save({'state_dict': init_model(str(REPO / TINY)).state_dict()}, ckpt)
    proc = _run('tools/test.py', TINY, str(ckpt), '--work-dir', str(tmp_path / 'w'),
                '--cfg-options', f'test_dataloader.dataset.data_root={data}')
    _one_line_error(proc, f'{frame.name[:-4]}')
    assert 'DataFormatError' in proc.stderr and 'unreadable' in proc.stderr
    proc = _run('tools/test.py', TINY, str(tmp_path / 'missing.pth'), '--work-dir',
                str(tmp_path / 'w'), '--debug', '--cfg-options', 'test_dataloadr.batch_size=4')
    assert 'Traceback' in proc.stderr  # --debug keeps it
