"""The learned retriever: the TAM's spans written as a moment-retrieval prediction file
(tools/analysis/tam_predictions.py) read back through ``moment_retrieval`` give the M+ of
``tam`` grounding; the tool refuses a TAM trained on the split it predicts."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location(
        'tam_predictions_tool', REPO / 'tools' / 'analysis' / 'tam_predictions.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny TGL with a random TAM (calibrated so that its M+ has several spans), its config
    and checkpoint on disk, and a small synthetic dataset."""
    from tgl_mm.apis import init_model
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
    from tgl_mm.testing import tiny_tgl_config

    root = tmp_path_factory.mktemp('tam_pred')
    data = root / 'data'
    make_synthetic_mevis_m(data, num_videos=1, num_valid_u=2, num_valid=1, size=64,
                           min_frames=10, max_frames=12, progress=False, log=None)
    text_dir = save_tiny_text_encoder(root / 'bert', 'bert', hidden_size=32, num_layers=4)
    cfg = tiny_tgl_config(text_dir, image_size=128)
    for part in ('image_backbone', 'head'):
        cfg.model[part]['checkpoint'] = str(REPO / cfg.model[part]['checkpoint'])
    cfg.model.tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=32,
                         embed_dim=32, num_heads=4)
    cfg.model.test_cfg.grounding = dict(type='tam', mode='threshold')
    cfg.test_dataloader.dataset.data_root = str(data)
    config = root / 'tiny_tam.py'
    cfg.dump(str(config))
    torch.manual_seed(0)
    model = init_model(cfg)
    with torch.no_grad():   # a random TAM with spread-out scores
        model.tam.score.weight.mul_(20.0)
    model.tam.calibrate(0.97)    # its raw logits lie around 3.5: an M+ of several runs
    ckpt = root / 'tam.pth'
    meta = {'tam': {'settings': {'split': 'train'}}}
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, ckpt)
    return dict(cfg=cfg, config=config, ckpt=ckpt, model=model, data=data, root=root)


def test_tam_windows_read_back_to_the_tam_mplus(setup):
    from tgl_mm.engine.tam_predictions import tam_split_loader
    from tgl_mm.models.grounding import MomentRetrievalGrounding
    from tgl_mm.models.grounding.span_ops import mask_to_scored_windows

    out = setup['root'] / 'mr_tam.jsonl'
    stats = _tool().main([str(setup['config']), str(setup['ckpt']), '--split', 'valid_u',
                          '--out', str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    loader = tam_split_loader(setup['cfg'], 'valid_u')
    assert len(lines) == len(loader.dataset) == stats['num_queries']
    for rec in lines:
        windows = rec['pred_relevant_windows']
        assert windows and all(isinstance(s, int) and isinstance(e, int) and s < e
                               for s, e, _ in windows)
        scores = [w[2] for w in windows]
        assert scores == sorted(scores, reverse=True)
        spans = sorted(w[:2] for w in windows)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))   # separate runs
    assert any(len(rec['pred_relevant_windows']) > 1 for rec in lines)
    assert json.loads(out.with_name('mr_tam.stats.json').read_text())['split'] == 'valid_u'

    model = setup['model']
    every = MomentRetrievalGrounding(str(out), top_k=100)
    best = MomentRetrievalGrounding(str(out), top_k=1)
    for data in loader:
        inputs = model.data_preprocessor.collate(data)
        for sample in model.predict(inputs, data['data_samples']):
            assert torch.equal(every(sample).mplus, sample.pred_mplus)
            first = best(sample).mplus                  # one run of the TAM's M+
            assert bool(first.any()) and not bool((first & ~sample.pred_mplus).any())
            assert len(mask_to_scored_windows(first, sample.pred_frame_scores)) == 1


def test_the_tool_refuses_a_tam_trained_on_the_split(setup, tmp_path):
    state = {'state_dict': setup['model'].state_dict()}
    same = tmp_path / 'same.pth'
    torch.save({**state, 'meta': {'tam': {'settings': {'split': 'valid_u'}}}}, same)
    untrained = tmp_path / 'untrained.pth'
    torch.save({**state, 'meta': {}}, untrained)
    tool = _tool()
    with pytest.raises(ValueError, match="trained on split 'valid_u'"):
        tool.main([str(setup['config']), str(same), '--out', str(tmp_path / 'a.jsonl')])
    with pytest.raises(ValueError, match='tools/train_tam.py'):
        tool.main([str(setup['config']), str(untrained), '--out', str(tmp_path / 'b.jsonl')])
    assert not list(tmp_path.glob('*.jsonl'))
