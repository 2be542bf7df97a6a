"""configs/_base_/datasets/*: they parse, name registered types, and the synthetic one builds."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import FUNCTIONS

from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
from tgl_mm.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS

CFG_DIR = Path(__file__).parents[2] / 'configs' / '_base_' / 'datasets'
NAMES = ['synthetic_mevis_m', 'mevis_m', 'ref_ytvos', 'ref_davis17', 'refcoco']


def _datasets(cfg):
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if key not in cfg:
            continue
        ds = cfg[key]['dataset']
        yield key, cfg[key], ds
        for sub in ds.get('datasets', []):
            yield key, cfg[key], sub


@pytest.mark.parametrize('name', NAMES)
def test_config_types_are_registered(name):
    cfg = Config.fromfile(CFG_DIR / f'{name}.py')
    assert 'test_dataloader' in cfg and cfg.test_evaluator['type'] == 'RVOSMetric'
    for key, loader, ds in _datasets(cfg):
        assert DATASETS.get(ds['type']) is not None
        assert FUNCTIONS.get(loader['collate_fn']['type']) is not None
        if key != 'train_dataloader':
            # whole videos: one expression per batch, or one video's expressions per batch
            assert ds.get('test_mode') is True
            assert loader['batch_size'] == 1 or \
                loader.get('batch_sampler', {}).get('type') == 'VideoBatchSampler'
            if 'batch_sampler' in loader:
                assert DATA_SAMPLERS.get(loader['batch_sampler']['type']) is not None
        for t in ds.get('pipeline', []):
            assert TRANSFORMS.get(t['type']) is not None, t['type']
        if 'pipeline' in ds:
            assert ds['pipeline'][-1]['type'] == 'PackVideoInputs'
        if ds['type'] != 'ConcatDataset':     # its members are built one by one
            # builds without data when lazily initialised
            built = DATASETS.build(dict(ds, lazy_init=True))
            assert not built._fully_initialized


def test_synthetic_config_builds_and_loads(tmp_path):
    root = tmp_path / 'synthetic_mevis_m'
    make_synthetic_mevis_m(root, seed=1, num_videos=3, num_valid_u=1, num_valid=1, size=64,
                           min_frames=8, max_frames=8, progress=False, log=None)
    cfg = Config.fromfile(CFG_DIR / 'synthetic_mevis_m.py')
    assert cfg.img_size % 32 == 0 and cfg.num_frames >= 2
    for key in ('train_dataloader', 'val_dataloader'):
        ds = DATASETS.build(dict(cfg[key]['dataset'], data_root=str(root)))
        out = ds[0]
        t = cfg.num_frames if key == 'train_dataloader' else 8
        assert out['inputs'].shape == (t, 3, cfg.img_size, cfg.img_size)


def test_documented_child_override(tmp_path):
    """The override recipe of docs/datasets.md gives the new size and clip length; the
    command-line form of the settings reaches the built pipeline."""
    root = tmp_path / 'synthetic_mevis_m'
    make_synthetic_mevis_m(root, seed=1, num_videos=2, num_valid_u=1, num_valid=1, size=64,
                           min_frames=8, max_frames=8, progress=False, log=None)
    child = tmp_path / 'child.py'
    child.write_text(
        f"_base_ = ['{CFG_DIR / 'synthetic_mevis_m.py'}']\n"
        "img_size = 160\n"
        "train_pipeline = [dict(type='MomentAwareFrameSampler'),\n"
        "    dict(type='LoadVideoFrames'), dict(type='LoadExpressionMasks', per_object=True),\n"
        "    dict(type='ObjectSelectiveSupervision'),\n"
        "    dict(type='VideoResizePad', size=img_size), dict(type='PackVideoInputs')]\n"
        "train_dataloader = dict(dataset=dict(frame_sampling=dict(num_frames=6),\n"
        "                                     pipeline=train_pipeline))\n")
    cfg = Config.fromfile(child)
    dataset = cfg.train_dataloader.dataset
    assert dataset.frame_sampling == dict(num_frames=6, mplus_ratio=0.5)   # merged, not replaced
    assert dataset.moment_file == 'moments/train.json'                     # base kept
    out = DATASETS.build(dict(dataset, data_root=str(root)))[0]
    assert out['inputs'].shape == (6, 3, 160, 160)
    cfg.merge_from_dict({'train_dataloader.dataset.frame_sampling.mplus_ratio': 0.0,
                         'train_dataloader.dataset.oss': False})
    built = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(root)))
    sampler, oss = built.pipeline.transforms[0], built.pipeline.transforms[3]
    assert (sampler.num_frames, sampler.mplus_ratio, oss.enabled) == (6, 0.0, False)


def test_moment_schema_matches_the_parser():
    import json

    from tgl_mm.formats import MOMENT_FORMAT, MOMENT_VERSION
    schema = json.loads((CFG_DIR.parents[2] / 'docs' / 'moments_schema.json').read_text())
    assert schema['properties']['format']['const'] == MOMENT_FORMAT
    assert schema['properties']['version']['const'] == MOMENT_VERSION
