"""Every config under configs/ builds, so a broken config or an unregistered type fails CI.

The test is parametrised over ``configs/**/*.py``: a new config is covered without touching this
file. Each config is loaded, every ``type`` in it must resolve in a tgl_mm-scope registry, and
every part it defines is built:

- leaf configs (outside ``_base_``): the whole Runner (model, hooks, visualizer, log processor),
  then datasets, evaluators, optimizer wrapper, parameter schedulers and loop types;
- ``_base_`` fragments: the parts they define, each on its own (an optimizer on a dummy module).

Absent weights, data and grounding prediction files get stand-ins (:data:`STAND_INS`, applied in
order to the loaded config):

- an absent text-encoder directory (e.g. RoBERTa-base) becomes a tiny-vocabulary random RoBERTa of
  the width and depth the model config expects (made once per session);
- a local path under a weight key (:data:`WEIGHT_KEYS`) that does not exist becomes ``None``
  (random initialisation); ``init_cfg=dict(type='Pretrained', ...)`` on a missing file is dropped;
- a MeViS-layout dataset whose ``data_root`` is missing is pointed at a tiny synthetic MeViS-M
  generated once per session, and one sample is pulled through its pipeline;
- any other dataset whose ``data_root`` is missing is built with ``lazy_init=True`` (constructor
  and pipeline checked, annotations not read), and so are dataset wrappers around it;
- a grounding prediction file the user provides (``pred_file`` of a moment-retrieval or keyframe
  grounding, e.g. in the hybrid config) becomes a one-record file of the right format.

To add a rule (e.g. shrinking a model that is slow to build at full size), write a function
``rule(cfg: Config, ctx: StandInContext) -> None`` that edits ``cfg`` in place and decorate it
with ``@stand_in``; ``ctx.tmp_dir`` is a per-config scratch directory, ``ctx.session_dir`` a cache
shared by all configs, and ``ctx.synthetic_mevis`` the synthetic data root.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import tgl_mm.registry as registries

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / 'configs').rglob('*.py'))

#: keys whose value is a checkpoint or weight directory
WEIGHT_KEYS = ('checkpoint', 'pretrained', 'load_from', 'model_dir', 'ckpt_path')

#: text encoder types whose missing ``model_dir`` gets a tiny random RoBERTa of the right width
TEXT_ENCODER_TYPES = ('HFTextEncoder',)

#: MeViS-layout datasets that the synthetic MeViS-M can stand in for
SYNTHETIC_MEVIS_TYPES = ('MeViSDataset',)


@dataclasses.dataclass
class StandInContext:
    tmp_dir: Path  # this config's scratch directory
    session_dir: Path  # shared by all configs of the session (cache of stand-ins)
    synthetic_mevis: Path

    def tiny_text_encoder(self, hidden_size: int, num_layers: int) -> Path:
        """A random RoBERTa with the given width and depth (tiny vocabulary), made once."""
        from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder

        path = self.session_dir / f'roberta_{hidden_size}x{num_layers}'
        if not path.is_dir():
            heads = next(h for h in (12, 8, 4, 2, 1) if hidden_size % h == 0)
            save_tiny_text_encoder(path, 'roberta', hidden_size=hidden_size,
                                   num_layers=num_layers, num_heads=heads)
        return path


STAND_INS: list[Callable[[Config, StandInContext], None]] = []


def stand_in(rule: Callable[[Config, StandInContext], None]):
    """Register a stand-in rule (applied to every config before it is built)."""
    STAND_INS.append(rule)
    return rule


def walk(node: Any, path: str = '') -> Iterator[tuple[str, dict]]:
    """Every dict in a config, with its dotted path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from walk(value, f'{path}[{i}]')


def _missing_local(value: Any) -> bool:
    return (isinstance(value, str) and '://' not in value and not Path(value).exists()
            and not (REPO / value).exists())


@stand_in
def tiny_text_encoder_for_missing_dirs(cfg: Config, ctx: StandInContext) -> None:
    """A text encoder directory that is absent (e.g. RoBERTa-base) becomes a random RoBERTa as
    wide as the model's ``neck.text_dim`` with as many layers as ``neck.text_layer_ends`` needs."""
    neck = (cfg.get('model') or {}).get('neck') or {}
    hidden = neck.get('text_dim') or 768
    layers = max(neck.get('text_layer_ends') or (12,))
    for _, node in walk(cfg._cfg_dict):
        if node.get('type') in TEXT_ENCODER_TYPES and _missing_local(node.get('model_dir')):
            node['model_dir'] = str(ctx.tiny_text_encoder(hidden, layers))


@stand_in
def random_init_for_missing_weights(cfg: Config, ctx: StandInContext) -> None:
    for _, node in walk(cfg._cfg_dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained' and \
                _missing_local(init.get('checkpoint')):
            node['init_cfg'] = None
        for key in WEIGHT_KEYS:
            if _missing_local(node.get(key)):
                node[key] = None


#: the record field of each file-based grounding's predictions, and a valid stand-in value
PREDICTION_STAND_INS = {'moment_retrieval': ('pred_relevant_windows', [[0, 1, 1.0]]),
                        'MomentRetrievalGrounding': ('pred_relevant_windows', [[0, 1, 1.0]]),
                        'keyframes': ('frame_scores', [1.0]),
                        'KeyframeGrounding': ('frame_scores', [1.0])}


@stand_in
def stand_in_prediction_files(cfg: Config, ctx: StandInContext) -> None:
    """A grounding prediction file the user provides (e.g. a moment-retrieval model's output)
    becomes a one-record file of the right format."""
    import json
    for path, node in walk(cfg._cfg_dict):
        if node.get('type') in PREDICTION_STAND_INS and _missing_local(node.get('pred_file')):
            field, value = PREDICTION_STAND_INS[node['type']]
            stand_in_file = ctx.tmp_dir / f'{path}.jsonl'
            stand_in_file.write_text(json.dumps({'qid': 'stand-in/0', field: value}) + '\n')
            node['pred_file'] = str(stand_in_file)


@stand_in
def stand_in_data(cfg: Config, ctx: StandInContext) -> None:
    for _, node in walk(cfg._cfg_dict):
        if 'type' not in node or 'data_root' not in node or not _missing_local(node['data_root']):
            continue
        if node['type'] in SYNTHETIC_MEVIS_TYPES:
            node['data_root'] = str(ctx.synthetic_mevis)
        else:
            node['lazy_init'] = True
    # wrappers (ConcatDataset, RepeatDataset, ...) of a lazy dataset must stay lazy too
    changed = True
    while changed:
        changed = False
        for _, node in walk(cfg._cfg_dict):
            inner = node.get('datasets') or [node.get('dataset')]
            if 'type' in node and not node.get('lazy_init') and any(
                    isinstance(d, dict) and d.get('lazy_init') for d in inner):
                node['lazy_init'] = changed = True


def _scope_registries() -> list:
    regs = [getattr(registries, name) for name in dir(registries) if name.isupper()]
    return [r for r in regs if hasattr(r, 'get')]


def _resolves(type_name: str) -> bool:
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        return any(reg.get(type_name) is not None for reg in _scope_registries())


@pytest.fixture(scope='session')
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('config_stand_ins')


@pytest.fixture(scope='session')
def synthetic_mevis(tmp_path_factory) -> Path:
    from tgl_mm.datasets.synthetic.generate import make_synthetic_mevis_m

    root = tmp_path_factory.mktemp('synthetic_mevis_m')
    make_synthetic_mevis_m(root, seed=0, num_videos=2, num_valid_u=1, num_valid=1, size=64,
                           overwrite=True, progress=False, log=None)
    return root


def _build_datasets(cfg: Config) -> list[str]:
    built = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader or 'dataset' not in loader:
            continue
        dataset = registries.DATASETS.build(loader['dataset'])
        if not loader['dataset'].get('lazy_init'):
            assert len(dataset) > 0, f'{split} dataset is empty'
            dataset[0]  # one sample through the whole pipeline
        built.append(f'{split}_dataloader.dataset')
    return built


def _build_evaluators(cfg: Config) -> list[str]:
    from tgl_mm.engine.runner_utils import _metric_cfgs

    built = []
    for split in ('val', 'test'):
        for metric in _metric_cfgs(cfg.get(f'{split}_evaluator')):
            registries.METRICS.build(metric)
            built.append(f'{split}_evaluator')
    return built


def _build_optimisation(cfg: Config, model: torch.nn.Module | None) -> list[str]:
    from mmengine.optim import build_optim_wrapper

    if 'optim_wrapper' not in cfg:
        return []
    optim_wrapper = build_optim_wrapper(model or torch.nn.Linear(1, 1), cfg.optim_wrapper)
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        registries.PARAM_SCHEDULERS.build(
            scheduler, default_args=dict(optimizer=optim_wrapper, epoch_length=10))
    return ['optim_wrapper', 'param_scheduler']


def _build_fragment_parts(cfg: Config, tmp_dir: Path) -> tuple[torch.nn.Module | None, list[str]]:
    built, model = [], None
    if 'model' in cfg:
        model = registries.MODELS.build(cfg.model)
        built.append('model')
    for name, hook in (cfg.get('default_hooks') or {}).items():
        registries.HOOKS.build(hook)
        built.append(f'default_hooks.{name}')
    for hook in cfg.get('custom_hooks') or []:
        registries.HOOKS.build(hook)
    if 'visualizer' in cfg:
        registries.VISUALIZERS.build(
            dict(cfg.visualizer, name=f'cfg-{uuid.uuid4().hex}', save_dir=str(tmp_dir)))
        built.append('visualizer')
    if 'log_processor' in cfg:
        registries.LOG_PROCESSORS.build(cfg.log_processor)
    return model, built


def build_config(rel_path: str, tmp_dir: Path, session_dir: Path,
                 synthetic_mevis: Path) -> list[str]:
    """Load, stand in for absent weights/data, type-check and build; return what was built."""
    from tgl_mm.engine import build_runner, load_config

    cfg = load_config(REPO / rel_path)
    ctx = StandInContext(tmp_dir=tmp_dir, session_dir=session_dir,
                         synthetic_mevis=synthetic_mevis)
    for rule in STAND_INS:
        rule(cfg, ctx)

    unresolved = sorted({f'{path}: {node["type"]}' for path, node in walk(cfg._cfg_dict)
                         if isinstance(node.get('type'), str) and not _resolves(node['type'])})
    assert not unresolved, f'{rel_path}: unregistered types:\n' + '\n'.join(unresolved)
    for key, reg in (('train_cfg', registries.LOOPS), ('val_cfg', registries.LOOPS),
                     ('test_cfg', registries.LOOPS), ('strategy', registries.STRATEGIES)):
        if isinstance(cfg.get(key), dict) and 'type' in cfg[key]:
            with DefaultScope.overwrite_default_scope('tgl_mm'):
                assert reg.get(cfg[key]['type']) is not None, f'{key}: {cfg[key]["type"]}'

    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
        if '_base_' not in Path(rel_path).parts:  # a runnable config: the whole Runner
            cfg.work_dir = str(tmp_dir / 'work_dir')
            cfg.experiment_name = f'cfg-{uuid.uuid4().hex[:8]}'
            if 'visualizer' in cfg:
                cfg.visualizer.name = cfg.experiment_name
            cfg.launcher = 'none'
            runner = build_runner(cfg)
            model, built = runner.model, ['runner']
        else:
            model, built = _build_fragment_parts(cfg, tmp_dir)
        built += _build_datasets(cfg) + _build_evaluators(cfg) + _build_optimisation(cfg, model)
    return built


@pytest.mark.parametrize('rel_path', CONFIGS)
def test_config_builds(rel_path, tmp_path, session_dir, synthetic_mevis):
    built = build_config(rel_path, tmp_path, session_dir, synthetic_mevis)
    assert built, f'{rel_path} defines nothing that could be built'


@pytest.mark.parametrize('rel_path', [c for c in CONFIGS if '_base_' not in Path(c).parts])
def test_every_config_has_a_default_seed(rel_path):
    from tgl_mm.engine import load_config
    seed = load_config(REPO / rel_path).get('randomness', {}).get('seed')
    assert isinstance(seed, int), f'{rel_path}: randomness.seed is {seed!r}'


def test_every_config_is_covered():
    assert 'configs/_base_/default_runtime.py' in CONFIGS
    assert len(CONFIGS) >= 4


def test_unregistered_type_fails(tmp_path, session_dir, synthetic_mevis):
    broken = tmp_path / 'configs' / 'broken.py'
    broken.parent.mkdir()
    broken.write_text("_base_ = ['%s']\nmodel = dict(type='NoSuchModel')\n"
                      % (REPO / 'configs' / '_base_' / 'default_runtime.py'))
    with pytest.raises(AssertionError, match='model: NoSuchModel'):
        build_config(str(broken), tmp_path, session_dir, synthetic_mevis)
