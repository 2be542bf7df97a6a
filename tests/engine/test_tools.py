"""tools/train.py and tools/test.py: flags, config overrides, and end-to-end runs in-process."""
import importlib.util
import uuid

import pytest
import torch
from mmengine.config import Config

from tgl_mm.engine import (
    apply_test_args,
    apply_train_args,
    enable_amp,
    enable_visualization,
    runner_utils,
    set_prediction_dir,
    set_resume,
    set_work_dir,
    use_cpu_ddp,
)
from tgl_mm.utils import dist as tgl_dist


def _tool(toy, name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', toy.repo / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unique() -> list[str]:
    name = f'tool-{uuid.uuid4().hex[:8]}'
    return [f'experiment_name={name}', f'visualizer.name={name}', 'log_level=WARNING']


def test_train_flags(toy):
    train = _tool(toy, 'train')
    args = train.parse_args(['c.py'])
    assert (args.work_dir, args.resume, args.amp, args.launcher) == (None, None, False, 'none')
    assert train.parse_args(['c.py', '--resume']).resume == 'auto'
    assert train.parse_args(['c.py', '--resume', 'w/iter_4.pth']).resume == 'w/iter_4.pth'
    args = train.parse_args(['c.py', '--amp', '--launcher', 'slurm', '--work-dir', 'w',
                             '--cfg-options', 'train_cfg.max_iters=3', 'model.dims=[1,2]'])
    assert args.amp and args.launcher == 'slurm' and args.work_dir == 'w'
    assert args.cfg_options == {'train_cfg.max_iters': 3, 'model.dims': [1, 2]}
    with pytest.raises(SystemExit):
        train.parse_args(['c.py', '--launcher', 'mpi'])
    assert (args.seed, args.deterministic) == (None, False)
    args = train.parse_args(['c.py', '--seed', '3', '--deterministic'])
    assert (args.seed, args.deterministic) == (3, True)


def test_test_flags(toy):
    test = _tool(toy, 'test')
    args = test.parse_args(['c.py', 'ckpt.pth', '--out', 'preds', '--show-dir', 'vis'])
    assert (args.checkpoint, args.out, args.show_dir, args.launcher) == \
        ('ckpt.pth', 'preds', 'vis', 'none')


def test_train_then_test_end_to_end(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(toy.configs / 'toy_iter.py')
    _tool(toy, 'train').main([config, '--cfg-options', 'train_cfg.max_iters=4',
                              'train_cfg.val_interval=100', *_unique()])
    work = tmp_path / 'work_dirs' / 'toy_iter'  # default: work_dirs/<config stem>
    ckpt = work / 'iter_4.pth'
    assert (work / 'last_checkpoint').read_text() == str(ckpt)

    metrics = _tool(toy, 'test').main([config, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                                       '--cfg-options', *_unique()])
    # recompute the metric by hand from the checkpoint's weights
    from tgl_mm.registry import DATASETS, MODELS
    from tgl_mm.utils.checkpoint import load_checkpoint_file
    model = MODELS.build(dict(type='ToyRegressor', in_dim=4, hidden_dim=8))
    model.load_state_dict(load_checkpoint_file(ckpt)['state_dict'])
    data = DATASETS.build(dict(type='ToyRegressionDataset', num_samples=8, in_dim=4, seed=1))
    with torch.no_grad():
        mae = (model(data.inputs) - data.targets).abs().mean().item()
    assert metrics['toy/mae'] == pytest.approx(mae, rel=1e-5)


def test_amp_on_cpu_trains_in_bfloat16(toy, tmp_path):
    cfg = toy.cfg(tmp_path, train_cfg=dict(max_iters=2, val_interval=100))
    apply_train_args(cfg, amp=True)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    runner = toy.train(cfg)
    assert type(runner.optim_wrapper).__name__ == 'AutocastOptimWrapper'
    assert runner.model.compute_dtypes['loss'] == torch.bfloat16  # training ran under autocast
    assert all(p.dtype == torch.float32 for p in runner.model.parameters())
    assert (tmp_path / 'iter_2.pth').is_file()


def test_amp_choices(monkeypatch):
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    monkeypatch.setattr(runner_utils, 'is_cpu_only', lambda: False)
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    enable_amp(cfg)  # already on: unchanged
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='OptimWrapper'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapperDict'))))
    with pytest.raises(ValueError, match='no optim_wrapper'):
        enable_amp(Config(dict()))


def test_work_dir_and_resume():
    cfg = Config(dict(), filename='configs/tgl/tgl_tiny.py', cfg_text='#')
    set_work_dir(cfg)
    assert cfg.work_dir == 'work_dirs/tgl_tiny'
    cfg = Config(dict(work_dir='from_config'), filename='x.py', cfg_text='#')
    set_work_dir(cfg)
    assert cfg.work_dir == 'from_config'
    set_work_dir(cfg, 'from_cli')
    assert cfg.work_dir == 'from_cli'

    cfg = Config(dict(resume=False, load_from=None))
    set_resume(cfg, None)
    assert (cfg.resume, cfg.load_from) == (False, None)
    set_resume(cfg, 'auto')
    assert (cfg.resume, cfg.load_from) == (True, None)
    set_resume(cfg, 'w/iter_2.pth')
    assert (cfg.resume, cfg.load_from) == (True, 'w/iter_2.pth')


@pytest.mark.parametrize('evaluator', [
    dict(type='RVOSMetric', format_only=False),
    [dict(type='RVOSMetric'), dict(type='ToyMAEMetric')],
    dict(type='Evaluator', metrics=[dict(type='tgl_mm.RVOSMetric'), dict(type='ToyMAEMetric')]),
])
def test_out_sets_output_dir_on_rvos_metrics_only(evaluator):
    cfg = Config(dict(test_evaluator=evaluator), filename='x.py', cfg_text='#')
    apply_test_args(cfg, 'ckpt.pth', out='preds')
    metrics = runner_utils._metric_cfgs(cfg.test_evaluator)
    for metric in metrics:
        if metric['type'].endswith('RVOSMetric'):
            assert metric['output_dir'] == 'preds'
        else:
            assert 'output_dir' not in metric
    assert (cfg.load_from, cfg.resume) == ('ckpt.pth', False)


def test_out_without_rvos_metric_is_an_error():
    cfg = Config(dict(test_evaluator=dict(type='ToyMAEMetric')), filename='toy.py', cfg_text='#')
    with pytest.raises(ValueError, match='toy.py has no RVOSMetric'):
        set_prediction_dir(cfg, 'preds')


def test_show_dir_turns_drawing_on():
    cfg = Config(dict(default_hooks=dict(
        visualization=dict(type='RVOSVisualizationHook', draw=False, interval=5))))
    enable_visualization(cfg, 'vis')
    assert cfg.default_hooks.visualization == dict(
        type='RVOSVisualizationHook', draw=True, interval=5, test_out_dir='vis')
    cfg = Config(dict())
    enable_visualization(cfg, 'vis')
    assert cfg.default_hooks.visualization == dict(
        type='RVOSVisualizationHook', draw=True, test_out_dir='vis')


def test_cpu_ddp_wrapper(monkeypatch):
    cfg = Config(dict(launcher='none'))
    use_cpu_ddp(cfg)
    assert 'model_wrapper_cfg' not in cfg
    cfg = Config(dict(launcher='pytorch', find_unused_parameters=True))
    use_cpu_ddp(cfg)
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False, find_unused_parameters=True)
    cfg = Config(dict(launcher='pytorch', model_wrapper_cfg=dict(
        type='MMDistributedDataParallel', static_graph=True)))
    use_cpu_ddp(cfg)
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', static_graph=True,
                                         device_ids=None)
    monkeypatch.setattr(runner_utils, 'is_cpu_only', lambda: False)  # GPUs: mmengine's default
    cfg = Config(dict(launcher='pytorch'))
    use_cpu_ddp(cfg)
    assert 'model_wrapper_cfg' not in cfg


def test_launcher_errors(monkeypatch):
    with pytest.raises(ValueError, match='unknown launcher'):
        tgl_dist.init_cpu_process_group('mpi')
    assert tgl_dist.init_cpu_process_group('none') is False
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        tgl_dist.init_cpu_process_group('pytorch')
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(RuntimeError, match='SLURM_PROCID.*srun'):
        tgl_dist.init_cpu_process_group('slurm')


def test_slurm_environment(monkeypatch):
    for var in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '5')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[1-2]')
    monkeypatch.setenv('MASTER_ADDR', 'node1')  # skips the scontrol call
    tgl_dist.slurm_to_torch_env(port=29999)
    import os
    assert [os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                                    'MASTER_PORT')] == ['5', '8', '1', 'node1', '29999']


def test_missing_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        runner_utils.load_config(tmp_path / 'nope.py')


def test_grounding_flag(toy):
    test = _tool(toy, 'test')
    args = test.parse_args(['c.py', 'ckpt.pth', '--grounding', 'keyframes',
                            '--grounding-options', 'pred_file=s.jsonl', 'top_k=2'])
    assert args.grounding == 'keyframes'
    assert args.grounding_options == {'pred_file': 's.jsonl', 'top_k': 2}
    cfg = Config(dict(model=dict(type='TGLSAM2', test_cfg=dict(
        grounding=dict(type='oracle', stale=1), chunk_size=4))))
    apply_test_args(cfg, 'ckpt.pth', grounding=args.grounding,
                    grounding_options=args.grounding_options)
    # replaced, not merged into the config's grounding; the rest of test_cfg kept
    assert cfg.model.test_cfg.grounding == dict(type='keyframes', pred_file='s.jsonl', top_k=2)
    assert cfg.model.test_cfg.chunk_size == 4
    with pytest.raises(ValueError, match="unknown grounding 'orcale'.*oracle"):
        apply_test_args(cfg, 'ckpt.pth', grounding='orcale')


def _train_with(toy, tmp_path, name, **train_args):
    cfg = toy.cfg(tmp_path / name, train_cfg=dict(max_iters=2, val_interval=100))
    cfg.log_level = 'INFO'
    apply_train_args(cfg, **train_args)
    runner = toy.train(cfg)
    return runner, toy.state(runner)


def test_seed_and_deterministic_flags(toy, tmp_path):
    """Every config has a default seed; --seed overrides it and is logged; the same seed gives
    the same weights, another seed other weights; --deterministic reaches mmengine."""
    default_cfg = toy.cfg(tmp_path / 'cfg')
    assert default_cfg.randomness == dict(seed=0, deterministic=False)
    try:
        runner, a = _train_with(toy, tmp_path, 'a', seed=7, deterministic=True)
        assert runner.seed == 7 and runner._deterministic
        assert torch.are_deterministic_algorithms_enabled()
        log = next((tmp_path / 'a').glob('*/*.log')).read_text()
        assert 'seed: 7' in log
    finally:
        torch.use_deterministic_algorithms(False)
    _, b = _train_with(toy, tmp_path, 'b', seed=7)
    _, c = _train_with(toy, tmp_path, 'c', seed=8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
