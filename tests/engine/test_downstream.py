"""A module outside tgl_mm registers its own component; a config selects it, tgl_mm unchanged."""
import pytest
import torch


@pytest.mark.parametrize('loss,scale', [
    (dict(type='DownstreamL1Loss'), 1.0),  # registered in tgl_mm's MODELS
    (dict(type='toy_downstream.ScaledL1Loss', scale=3.0), 3.0),  # a child registry, own scope
])
def test_config_selects_downstream_loss(toy, tmp_path, loss, scale):
    cfg = toy.cfg(tmp_path, 'toy_downstream.py', train_cfg=dict(max_iters=1, val_interval=100))
    cfg.model.loss = loss
    runner = toy.train(cfg)
    loss_fn = runner.model.loss_fn
    assert type(loss_fn).__module__ == 'tests.fixtures.toy.downstream_ext'
    assert type(loss_fn).__name__ == loss['type'].split('.')[-1]
    # the built loss is really used: L1 (times scale), not the toy's default squared error
    pred, target = torch.tensor([[1.0], [-1.0]]), torch.tensor([[0.0], [1.0]])
    assert loss_fn(pred, target).item() == pytest.approx(scale * 1.5)
    batch = runner.model.data_preprocessor(next(iter(runner.train_dataloader)), True)
    with torch.no_grad():
        pred = runner.model(batch['inputs'], mode='tensor')
        expected = scale * (pred - batch['target']).abs().mean()
        assert runner.model(**batch, mode='loss')['loss'] == pytest.approx(expected.item())


def test_downstream_scope_is_a_child_of_tgl_mm(toy):
    import importlib

    from tgl_mm.registry import MODELS
    ext = importlib.import_module('tests.fixtures.toy.downstream_ext')
    assert ext.MODELS.parent is MODELS and ext.MODELS.scope == 'toy_downstream'
    assert MODELS.get('toy_downstream.ScaledL1Loss') is ext.ScaledL1Loss
    assert MODELS.get('DownstreamL1Loss') is ext.DownstreamL1Loss
