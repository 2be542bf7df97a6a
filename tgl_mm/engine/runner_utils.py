"""Library side of ``tools/train.py`` and ``tools/test.py``.

Each command-line flag is one small function that edits a :class:`mmengine.Config`; the tools
parse arguments, call these, and run. Adding a flag that changes the config is one argparse line
plus one call (see ``apply_test_args``).
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import inspect
import os.path as osp
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner

from tgl_mm.utils.checkpoint import install_checkpoint_safety
from tgl_mm.utils.dist import destroy_process_group, init_cpu_process_group, is_cpu_only

from .runner import TGLRunner

__all__ = [
    'apply_test_args', 'apply_train_args', 'build_runner', 'check_cfg_option_keys',
    'check_grounding_files',
    'set_format_only_without_masks',
    'default_work_dir', 'enable_amp',
    'enable_visualization', 'launch_session', 'load_config', 'set_launcher', 'set_prediction_dir',
    'set_non_strict', 'set_randomness', 'set_resume', 'set_work_dir', 'set_grounding',
    'use_cpu_ddp',
]

RVOS_METRIC = 'RVOSMetric'
RVOS_VIS_HOOK = 'RVOSVisualizationHook'


#: top-level keys a config may set without having them (mmengine Runner arguments and tgl_mm's)
EXTRA_TOP_LEVEL_KEYS = frozenset({'runner_type', 'load_strict', 'load_allow_missing',
                                  'custom_imports'})
#: how close a missing nested key must be to an existing sibling to count as a misspelling
NEAR_MISS_CUTOFF = 0.85


def _known_top_level_keys(cfg: Config) -> set[str]:
    params = inspect.signature(Runner.__init__).parameters
    return set(cfg.keys()) | {p for p in params if p != 'self'} | EXTRA_TOP_LEVEL_KEYS


def _misspelling(key: str, options: list[str], cutoff: float) -> str | None:
    close = difflib.get_close_matches(key, options, n=1, cutoff=cutoff)
    return close[0] if close else None


def check_cfg_option_keys(cfg: Config, cfg_options: dict) -> None:
    """Refuse ``--cfg-options`` keys that look misspelled (mmengine would add them silently).

    A top-level key must be in the config or be a Runner argument (``randomness``,
    ``experiment_name``, ...); below it, a key the config lacks is an error when it is a near miss
    of an existing sibling (e.g. ``batch_sise`` next to ``batch_size``). The error suggests the
    nearest existing key. New nested keys that resemble nothing (new arguments) are accepted.
    """
    known = _known_top_level_keys(cfg)
    for full_key in cfg_options:
        parts = str(full_key).split('.')
        if parts[0] not in known:
            near = _misspelling(parts[0], sorted(known), 0.6)
            hint = f' (did you mean {near!r}?)' if near else ''
            raise ValueError(f'--cfg-options {full_key}: {cfg.filename} has no top-level key '
                             f'{parts[0]!r}{hint}')
        node: Any = cfg.get(parts[0])
        for depth, part in enumerate(parts[1:], start=1):
            if not isinstance(node, dict):
                break
            if part not in node:
                siblings = [k for k in node if isinstance(k, str)]
                near = _misspelling(part, siblings, NEAR_MISS_CUTOFF)
                if near is not None:
                    path = '.'.join(parts[:depth])
                    raise ValueError(f'--cfg-options {full_key}: {path} has no key {part!r} '
                                     f'(did you mean {".".join([*parts[:depth], near])!r}?)')
                break
            node = node[part]


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """Read a config file and merge ``--cfg-options`` into it (keys checked first:
    :func:`check_cfg_option_keys`)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(str(path))
    if cfg_options:
        check_cfg_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_work_dir(config_path: str | Path) -> str:
    """``work_dirs/<config stem>`` (relative to the current directory), as in OpenMMLab."""
    return osp.join('work_dirs', osp.splitext(osp.basename(str(config_path)))[0])


def set_work_dir(cfg: Config, work_dir: str | None = None) -> None:
    """Priority: ``work_dir`` argument > ``work_dir`` in the config > ``work_dirs/<stem>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(cfg.filename)


def set_launcher(cfg: Config, launcher: str) -> None:
    cfg.launcher = launcher


def set_resume(cfg: Config, resume: str | None) -> None:
    """``--resume``: ``None`` leaves the config alone; ``'auto'`` resumes from
    ``work_dir/last_checkpoint``; a path resumes from that checkpoint."""
    if resume is None:
        return
    cfg.resume = True
    if resume != 'auto':
        cfg.load_from = resume


def enable_amp(cfg: Config) -> None:
    """``--amp``: mixed precision for a plain ``OptimWrapper``.

    With CUDA: mmengine's ``AmpOptimWrapper`` (float16, dynamic loss scaling). Without CUDA:
    :class:`~tgl_mm.engine.AutocastOptimWrapper` (bfloat16 CPU autocast, no loss scaling), because
    mmengine's AMP wrapper refuses CPUs.
    """
    optim = cfg.get('optim_wrapper')
    if optim is None:
        raise ValueError(f'--amp: {cfg.filename} has no optim_wrapper')
    kind = optim.get('type', 'OptimWrapper')
    if kind in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
        print_log(f'--amp: mixed precision is already on ({kind}).', logger='current')
        return
    if kind != 'OptimWrapper':
        raise ValueError(f'--amp expects optim_wrapper.type "OptimWrapper", got "{kind}" in '
                         f'{cfg.filename}; set mixed precision in that config instead')
    if is_cpu_only():
        optim.update(type='AutocastOptimWrapper', dtype='bfloat16')
    else:
        optim.update(type='AmpOptimWrapper', loss_scale='dynamic')


def _metric_cfgs(evaluator: Any) -> list[dict]:
    """The metric configs of an evaluator config (a metric, a list of them, or an Evaluator)."""
    if isinstance(evaluator, (list, tuple)):
        return [m for m in evaluator if isinstance(m, dict)]
    if isinstance(evaluator, dict):
        if 'metrics' in evaluator:
            return _metric_cfgs(evaluator['metrics'])
        return [evaluator]
    return []


def _is_rvos_metric(metric_type: Any) -> bool:
    """True for RVOSMetric and its subclasses (by registry lookup when possible)."""
    from mmengine.registry import DefaultScope

    from tgl_mm.registry import METRICS

    if isinstance(metric_type, str) and metric_type.split('.')[-1] == RVOS_METRIC:
        return True
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        base = METRICS.get(RVOS_METRIC)
        cls = METRICS.get(metric_type) if isinstance(metric_type, str) else metric_type
    return isinstance(cls, type) and isinstance(base, type) and issubclass(cls, base)


def set_prediction_dir(cfg: Config, out_dir: str) -> None:
    """``--out DIR``: every ``RVOSMetric`` of ``test_evaluator`` writes its predictions (MeViS
    layout ``DIR/<video>/<exp_id>/<frame>.png``) to ``DIR``. Other metrics are left alone."""
    metrics = [m for m in _metric_cfgs(cfg.get('test_evaluator')) if _is_rvos_metric(m.get('type'))]
    if not metrics:
        raise ValueError(f'--out: test_evaluator of {cfg.filename} has no {RVOS_METRIC}; '
                         'nothing would write predictions')
    for metric in metrics:
        metric['output_dir'] = out_dir


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """``--show-dir DIR``: draw test predictions into ``DIR`` with the visualization hook
    (``default_hooks.visualization``, an ``RVOSVisualizationHook`` unless the config picks a
    subclass)."""
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    hook = hooks.get('visualization') or ConfigDict(type=RVOS_VIS_HOOK)
    hook.update(draw=True, test_out_dir=show_dir)
    hooks['visualization'] = hook


def use_cpu_ddp(cfg: Config) -> None:
    """Wrap the model in CPU DDP (``device_ids=None``) when training distributed without CUDA.

    mmengine passes ``device_ids=[LOCAL_RANK]`` by default, which is a CUDA device. A
    ``model_wrapper_cfg`` in the config is kept; only ``device_ids`` is filled in.
    """
    if cfg.get('launcher', 'none') == 'none' or not is_cpu_only():
        return
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def set_grounding(cfg: Config, name: str, options: dict | None = None) -> None:
    """Select the test-time grounding strategy (``--grounding NAME [--grounding-options]``).

    Replaces ``model.test_cfg.grounding`` with ``dict(type=name, **options)``; ``name`` is a
    ``GROUNDINGS`` entry (``oracle``, ``none``, ``moment_retrieval``, ``keyframes``, ``hybrid``,
    ``tam`` or a downstream registration), checked here so a typo fails before the model builds.
    """
    from tgl_mm.registry import GROUNDINGS

    if GROUNDINGS.get(name) is None:
        names = sorted(k for k in GROUNDINGS.module_dict if k.islower())
        raise ValueError(f'unknown grounding {name!r}; registered: {", ".join(names)}')
    if 'model' not in cfg:
        raise KeyError('the config has no model to set the grounding of')
    test_cfg = cfg.model.get('test_cfg') or {}
    test_cfg['grounding'] = dict(type=name, **(options or {}))
    cfg.model['test_cfg'] = test_cfg


def set_randomness(cfg: Config, seed: int | None = None, deterministic: bool = False) -> None:
    """Set mmengine's ``randomness`` (``seed`` if given; ``deterministic=True`` if asked),
    keeping the config's other randomness settings."""
    randomness = dict(cfg.get('randomness') or {})
    if seed is not None:
        randomness['seed'] = int(seed)
    if deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness


def _file_grounding_cfgs(grounding: Any) -> Iterator[dict]:
    """Every (nested) grounding config naming a ``pred_file``."""
    if isinstance(grounding, dict):
        if 'pred_file' in grounding:
            yield grounding
        for value in grounding.values():
            yield from _file_grounding_cfgs(value)


def check_grounding_files(cfg: Config) -> None:
    """Load and validate every prediction file of ``model.test_cfg.grounding`` now, so a bad
    file stops ``tools/test.py`` before the model is built (the errors name file, line, query)."""
    from mmengine.registry import DefaultScope

    from tgl_mm.registry import GROUNDINGS

    test_cfg = (cfg.get('model') or {}).get('test_cfg') or {}
    for sub in _file_grounding_cfgs(test_cfg.get('grounding')):
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
            GROUNDINGS.build(copy.deepcopy(sub))


def _dataset_has_masks(dataset_cfg: Any) -> bool | None:
    """``split_has_masks`` of a dataset config's class (``None``: cannot tell)."""
    from mmengine.registry import DefaultScope

    from tgl_mm.registry import DATASETS

    if not isinstance(dataset_cfg, dict) or not isinstance(dataset_cfg.get('type'), str):
        return None
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        cls = DATASETS.get(dataset_cfg['type'])
    probe = getattr(cls, 'split_has_masks', None)
    if probe is None or 'data_root' not in dataset_cfg or 'split' not in dataset_cfg:
        return None
    return probe(str(dataset_cfg['data_root']), str(dataset_cfg['split']))


def set_format_only_without_masks(cfg: Config, out: str | None) -> None:
    """A test split without masks (MeViS ``valid``) cannot be scored: with ``--out`` its
    ``RVOSMetric`` s write the predictions only (``format_only``); without ``--out`` this raises
    (before the model is built) saying what to do."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    if _dataset_has_masks(dataset) is not False:
        return
    where = f'split {dataset["split"]!r} of {dataset["data_root"]}'
    if out is None:
        raise ValueError(f'the test {where} has no masks to score against: add --out DIR to write '
                         'the predictions (MeViS submission layout) for the evaluation server or '
                         'tools/eval_rvos.py')
    for metric in _metric_cfgs(cfg.get('test_evaluator')):
        if _is_rvos_metric(metric.get('type')):
            metric['format_only'] = True
    print_log(f'the test {where} has no masks: predictions are written to {out}, not scored',
              logger='current')


def set_non_strict(cfg: Config, non_strict: bool) -> None:
    """``--non-strict``: load a checkpoint that does not fit the model (the matching part, with
    mmengine's warning) instead of refusing it (``load_strict`` of :class:`TGLRunner`)."""
    if non_strict:
        cfg.load_strict = False


def apply_train_args(cfg: Config, *, work_dir: str | None = None, resume: str | None = None,
                     amp: bool = False, launcher: str = 'none', seed: int | None = None,
                     deterministic: bool = False, non_strict: bool = False) -> Config:
    """Apply ``tools/train.py``'s flags to ``cfg`` (in place; returned for chaining)."""
    set_work_dir(cfg, work_dir)
    set_non_strict(cfg, non_strict)
    set_launcher(cfg, launcher)
    set_resume(cfg, resume)
    set_randomness(cfg, seed, deterministic)
    if amp:
        enable_amp(cfg)
    return cfg


def apply_test_args(cfg: Config, checkpoint: str, *, work_dir: str | None = None,
                    out: str | None = None, show_dir: str | None = None,
                    launcher: str = 'none', grounding: str | None = None,
                    grounding_options: dict | None = None, non_strict: bool = False) -> Config:
    """Apply ``tools/test.py``'s flags to ``cfg`` (in place; returned for chaining)."""
    set_work_dir(cfg, work_dir)
    set_non_strict(cfg, non_strict)
    if grounding is not None:
        set_grounding(cfg, grounding, grounding_options)
    set_launcher(cfg, launcher)
    cfg.load_from = checkpoint
    cfg.resume = False
    if out is not None:
        set_prediction_dir(cfg, out)
    if show_dir is not None:
        enable_visualization(cfg, show_dir)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the config's runner (``runner_type`` if set, else :class:`TGLRunner`: mmengine's
    ``Runner`` with strict checkpoint loading).

    The checkpoint safety (:func:`~tgl_mm.utils.checkpoint.install_checkpoint_safety`) is
    installed first, whatever the runner type (``FlexibleRunner`` loads through mmengine's
    loaders too). The config's ``default_scope`` is made current first, so parts a runner
    builds before it sets its own scope (``FlexibleRunner``'s strategy) resolve in tgl_mm's
    registries too.
    Call inside :func:`launch_session` when ``cfg.launcher`` is not ``'none'``.
    """
    install_checkpoint_safety()
    use_cpu_ddp(cfg)
    if cfg.get('default_scope') is not None:
        init_default_scope(cfg.default_scope)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return TGLRunner.from_cfg(cfg)


@contextlib.contextmanager
def launch_session(cfg: Config) -> Iterator[None]:
    """Start distributed work for ``cfg.launcher`` and tear it down afterwards.

    Without CUDA, a gloo process group is started here (mmengine would call CUDA); with CUDA,
    mmengine starts nccl when the runner is built. Either way the process group is destroyed on
    exit, so gloo does not abort at interpreter shutdown.
    """
    dist_cfg = copy.deepcopy(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    init_cpu_process_group(cfg.get('launcher', 'none'), timeout=dist_cfg.get('timeout'))
    try:
        yield
    finally:
        destroy_process_group()
