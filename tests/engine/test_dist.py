"""Multi-process runs on this CPU machine through tools/dist_train.sh / dist_test.sh (gloo)."""
import socket
import subprocess

import pytest
import torch

pytestmark = pytest.mark.dist


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _run(toy, script: str, *args: str) -> subprocess.CompletedProcess:
    env = toy.env()
    env['PORT'] = _free_port()
    proc = subprocess.run(['bash', str(toy.repo / 'tools' / script), *args], env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def _sgd_step(initial: dict, inputs, targets, lr: float) -> dict:
    """One plain-torch SGD step of the toy model on ``inputs`` (the reference)."""
    from tgl_mm.registry import MODELS

    model = MODELS.build(dict(type='ToyRegressor', in_dim=4, hidden_dim=8))
    model.load_state_dict(initial)
    loss = model(inputs, targets, mode='loss')['loss']
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad
    return {k: v.detach() for k, v in model.state_dict().items()}


def test_ddp_two_ranks_synchronise_gradients(toy, tmp_path):
    work = tmp_path / 'ddp'
    _run(toy, 'dist_train.sh', str(toy.configs / 'toy_probe.py'), '2',
                '--work-dir', str(work))
    ranks = [torch.load(work / 'probe' / f'rank{r}.pth', weights_only=True) for r in (0, 1)]
    (batch0,), (batch1,) = ranks[0]['indices'], ranks[1]['indices']
    assert len(batch0) == len(batch1) == 2 and not set(batch0) & set(batch1)

    # same start, and after one step every parameter is identical across ranks
    for key in ranks[0]['initial']:
        assert torch.equal(ranks[0]['initial'][key], ranks[1]['initial'][key]), key
        assert torch.equal(ranks[0]['final'][key], ranks[1]['final'][key]), key

    # ... and equal to one process stepping on the joined batch of 4
    from tgl_mm.registry import DATASETS
    data = DATASETS.build(dict(type='ToyRegressionDataset', num_samples=32, in_dim=4, seed=0))
    joined = batch0 + batch1
    reference = _sgd_step(ranks[0]['initial'], data.inputs[joined], data.targets[joined], lr=0.1)
    for key, value in reference.items():
        torch.testing.assert_close(ranks[0]['final'][key], value, rtol=0, atol=1e-6)
    # control: a rank stepping on its own half alone would have ended elsewhere
    alone = _sgd_step(ranks[0]['initial'], data.inputs[batch0], data.targets[batch0], lr=0.1)
    assert any(not torch.allclose(alone[k], reference[k], atol=1e-6) for k in reference)

    # distributed testing of that checkpoint scores every sample once, like one process does
    ckpt = (work / 'last_checkpoint').read_text()
    proc = _run(toy, 'dist_test.sh', str(toy.configs / 'toy_probe.py'), ckpt, '2',
                '--work-dir', str(tmp_path / 'test2'))
    single = toy.cfg(tmp_path / 'test1', 'toy_probe.py')
    single.load_from = ckpt
    from tgl_mm.engine import build_runner
    expected = build_runner(single).test()['toy/mae']
    assert f'toy/mae: {expected:.4f}' in proc.stdout + proc.stderr
