"""tools/test.py on a split without masks (MeViS ``valid``): predictions written with --out,
a clear refusal before the model is built without it."""
from __future__ import annotations

import importlib.util
import time
import uuid
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs' / 'tgl' / 'tgl_tiny_synthetic.py')


def _test_tool():
    spec = importlib.util.spec_from_file_location('tool_test', REPO / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory) -> Path:
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m

    data = tmp_path_factory.mktemp('synthetic') / 'data'
    make_synthetic_mevis_m(data, num_videos=1, num_valid_u=1, num_valid=1, size=64,
                           min_frames=6, max_frames=6, progress=False, log=None)
    return data


def _options(data: Path) -> list[str]:
    name = f'valid-{uuid.uuid4().hex[:8]}'
    return ['--cfg-options', f'test_dataloader.dataset.data_root={data}',
            'test_dataloader.dataset.split=valid',
            'test_dataloader.dataset.moment_file=moments/valid.json',
            f'experiment_name={name}', f'visualizer.name={name}', 'log_level=WARNING']


def test_split_without_masks_needs_out_and_says_so_before_the_model(synthetic, tmp_path,
                                                                    monkeypatch):
    from tgl_mm.engine import runner_utils

    def no_model(cfg):
        raise AssertionError('the runner (and model) must not be built')

    test = _test_tool()
    monkeypatch.setattr(test, 'build_runner', no_model)
    start = time.monotonic()
    with pytest.raises(ValueError, match="split 'valid' of .* has no masks.*--out DIR"):
        test.main([CONFIG, str(tmp_path / 'never_read.pth'), '--work-dir', str(tmp_path / 'w'),
                   *_options(synthetic)])
    assert time.monotonic() - start < 20
    assert runner_utils._dataset_has_masks(dict(type='MeViSDataset', data_root=str(synthetic),
                                                split='valid_u')) is True
    assert runner_utils._dataset_has_masks(dict(type='MeViSDataset', data_root='nowhere',
                                                split='valid')) is None


def test_split_without_masks_writes_predictions_with_out(synthetic, tmp_path):
    from tgl_mm.apis import init_model

    ckpt = tmp_path / 'random_init.pth'
    torch.save({'state_dict': init_model(CONFIG).state_dict()}, ckpt)
    out = tmp_path / 'preds'
    metrics = _test_tool().main([CONFIG, str(ckpt), '--out', str(out), '--work-dir',
                                 str(tmp_path / 'w'), *_options(synthetic)])
    assert 'rvos/J&F' not in metrics and metrics['rvos/num_expressions'] >= 1
    written = sorted(out.glob('*/*/*.png'))
    assert written and len({p.parent for p in written}) == metrics['rvos/num_expressions']
