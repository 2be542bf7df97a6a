"""tools/train_tam.py refuses settings that train nothing and never writes NaN (issue 22)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from tgl_mm.engine.tam_training import finite_or_none, tam_train_settings

REPO = Path(__file__).resolve().parents[2]
TAM_CONFIG = 'configs/tgl/tgl_tiny_synthetic_tam.py'


@pytest.mark.parametrize('key,value', [('iters', 0), ('batch_size', 0), ('iters', 2.5),
                                       ('lr', 0.0), ('crop_prob', 1.5), ('held_out', 1.0),
                                       ('min_frames', 0), ('batch_size', True)])
def test_settings_refuse_values_that_train_nothing(key, value):
    with pytest.raises(ValueError, match=f'tam_train.{key} must be'):
        tam_train_settings(Config(dict(tam_train={key: value})))


def test_summary_has_no_nan():
    summary = finite_or_none(dict(a=float('nan'), b=[1.0, float('inf')], c=dict(d=2.0), e='x'))
    assert summary == dict(a=None, b=[1.0, None], c=dict(d=2.0), e='x')
    json.dumps(summary, allow_nan=False)   # raises on NaN


@pytest.mark.parametrize('option,message', [
    ('tam_train.iters=0', 'tam_train.iters must be an integer >= 1, got 0'),
    ('tam_train.batch_size=0', 'tam_train.batch_size must be an integer >= 1, got 0')])
def test_train_tam_tool_refuses_in_one_line(tmp_path, option, message):
    """Refused before the checkpoint is read (it does not even exist here); nothing written."""
    proc = subprocess.run(
        [sys.executable, 'tools/train_tam.py', TAM_CONFIG, str(tmp_path / 'missing.pth'),
         '--out', str(tmp_path / 'tam.pth'), '--cfg-options', option],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert lines[-1].startswith('error: ValueError: ' + message)
    assert not list(tmp_path.iterdir())


def test_train_tam_writes_a_strict_json_summary(tmp_path, monkeypatch):
    """The summary file is strict JSON (no bare NaN) even when a value is not finite."""
    spec = importlib.util.spec_from_file_location('tool_train_tam', REPO / 'tools' /
                                                  'train_tam.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ckpt = tmp_path / 'tgl.pth'
    ckpt.write_bytes(b'x')
    monkeypatch.setattr(tool, 'fit_tam', lambda *a, **k: dict(final_loss=float('nan'),
                                                               threshold=0.4))
    tool.main([TAM_CONFIG, str(ckpt), '--out', str(tmp_path / 'tgl_tam.pth')])
    text = (tmp_path / 'tgl_tam.json').read_text()
    assert 'NaN' not in text and json.loads(text) == dict(final_loss=None, threshold=0.4)
