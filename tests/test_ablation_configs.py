"""The ablation configs change one factor per row, and their settings reach what is built.

Every config in ``configs/tgl/ablations/`` (paper size) and ``configs/tgl/ablations/tiny/``
declares ``ablation = dict(row=..., reference=..., changes=(...))``. Here each one is loaded and
flattened, so is its reference recipe, and:

- they differ in exactly the declared keys (the ``ablation`` variable itself aside);
- the declared keys are the factors in which the row's definition (:data:`ROWS`, the issue's
  table) differs from the full model's (:data:`REFERENCE`), and the values are the row's;
- the settings reach the built objects: the train dataset's frame sampler and OSS step, and the
  MDP head's processing plan.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
ABLATIONS = REPO / 'configs' / 'tgl' / 'ablations'
#: ablation folder -> its reference recipe (the full model: Tab. 2 last row, Tab. 3 "both")
REFERENCES = {ABLATIONS: 'configs/tgl/tgl_hiera-b_mevis-m.py',
              ABLATIONS / 'tiny': 'configs/tgl/tgl_tiny_synthetic.py'}

SAMPLING = 'train_dataloader.dataset.frame_sampling.mplus_ratio'
OSS = 'train_dataloader.dataset.oss'
MFE = 'model.head.mfe'
MEMORY = 'model.head.memory_from'
ORDER = 'model.head.order'

#: the full model: moment-aware sampling (half M+), OSS, MFE, memory from M+, M+ first
REFERENCE: dict[str, Any] = {SAMPLING: 0.5, OSS: True, MFE: True, MEMORY: 'mplus',
                             ORDER: 'mplus_first'}
#: each row's factors that differ from the full model (issue 18, must-have 1)
ROWS: dict[str, dict[str, Any]] = {
    # Tab. 2 baseline as SAMWISE runs it: random frames, every frame carries the sentence
    't2_baseline': {SAMPLING: 0.0, OSS: False, MFE: False, MEMORY: 'all', ORDER: 'temporal'},
    't2_sampling': {OSS: False, MFE: False, MEMORY: 'all'},
    't2_sampling_mdp': {OSS: False},
    't2_sampling_oss': {MFE: False, MEMORY: 'all'},       # also Tab. 3 "neither"
    't3_mfe_memall': {MEMORY: 'all'},
    't3_nomfe_memplus': {MFE: False},
    'ctrl_tgl_temporal': {ORDER: 'temporal'},
    'ctrl_nomfe_memall_temporal': {MFE: False, MEMORY: 'all', ORDER: 'temporal'},
}
#: the four Table 3 cells (MFE x memory), the full model among them
TABLE3_CELLS = ('t2_sampling_oss', 't3_mfe_memall', 't3_nomfe_memplus', None)

ABLATION_CONFIGS = sorted(p.relative_to(REPO).as_posix()
                          for folder in REFERENCES for p in folder.glob('*.py'))


def flatten(node: Any, prefix: str = '') -> Iterator[tuple[str, Any]]:
    """``(dotted key, leaf value)`` pairs of a nested config; list items are keyed by index."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)):
        items = enumerate(node)
    else:
        yield prefix, node
        return
    empty = True
    for key, value in items:
        empty = False
        yield from flatten(value, f'{prefix}.{key}' if prefix else str(key))
    if empty:
        yield prefix, type(node)()


def load_flat(rel_path: str) -> dict[str, Any]:
    cfg = Config.fromfile(REPO / rel_path).to_dict()
    return dict(flatten(cfg))


def row_values(row: str | None) -> dict[str, Any]:
    """Every factor of a row (the full model for ``None``)."""
    return {**REFERENCE, **(ROWS[row] if row else {})}


def test_every_row_has_a_tiny_and_a_paper_size_config():
    for folder in REFERENCES:
        rows = sorted(p.stem for p in folder.glob('*.py'))
        assert rows == sorted(ROWS), f'{folder.relative_to(REPO)}: {rows}'


def test_row_definitions():
    """The table above is the issue's: Table 3 cells and Table 2 rows after the baseline in the
    paper's order, the baseline and one control in temporal order."""
    for cell in TABLE3_CELLS:
        assert row_values(cell)[ORDER] == 'mplus_first' and row_values(cell)[SAMPLING] == 0.5
    assert {(row_values(c)[MFE], row_values(c)[MEMORY]) for c in TABLE3_CELLS} == \
        {(m, mem) for m in (True, False) for mem in ('mplus', 'all')}
    for row in ('t2_sampling', 't2_sampling_mdp', 't2_sampling_oss'):
        assert row_values(row)[ORDER] == 'mplus_first'
    assert row_values('t2_baseline')[ORDER] == 'temporal'
    for control, twin in (('ctrl_tgl_temporal', None),
                          ('ctrl_nomfe_memall_temporal', 't2_sampling_oss')):
        assert row_values(control) == {**row_values(twin), ORDER: 'temporal'}


@pytest.mark.parametrize('rel_path', ABLATION_CONFIGS)
def test_ablation_differs_from_its_reference_in_its_declared_keys_only(rel_path):
    flat = load_flat(rel_path)
    declared = {k[len('ablation.'):]: v for k, v in flat.items() if k.startswith('ablation.')}
    row = declared['row']
    assert row == Path(rel_path).stem, f'{rel_path}: row {row!r} is not the file name'
    reference = REFERENCES[(REPO / rel_path).parent]
    assert declared['reference'] == reference
    changes = {v for k, v in declared.items() if k.startswith('changes.')}

    ref = load_flat(reference)
    assert {k: ref.get(k) for k in REFERENCE} == REFERENCE, f'{reference}: not the full model'
    mine = {k: v for k, v in flat.items() if not k.startswith('ablation.')}
    differing = {k for k in mine.keys() | ref.keys()
                 if k not in mine or k not in ref or mine[k] != ref[k]}
    assert differing == changes, \
        f'{rel_path}: differs from {reference} in {sorted(differing)}, declares {sorted(changes)}'
    assert changes == set(ROWS[row]), \
        f'{rel_path}: declares {sorted(changes)}; row {row} changes {sorted(ROWS[row])}'
    assert {k: mine[k] for k in changes} == ROWS[row]


def test_the_check_catches_an_undeclared_change(tmp_path):
    """A row that changes one key more than it declares is caught by the same comparison."""
    config = tmp_path / 'sneaky.py'
    config.write_text(f"_base_ = ['{ABLATIONS / 'tiny' / 't3_mfe_memall.py'}']\n"
                      "optim_wrapper = dict(optimizer=dict(lr=1e-3))\n")
    flat = {k: v for k, v in load_flat(str(config)).items() if not k.startswith('ablation.')}
    ref = load_flat(REFERENCES[ABLATIONS / 'tiny'])
    assert {k for k in flat if flat[k] != ref.get(k)} == {MEMORY, 'optim_wrapper.optimizer.lr'}


# --------------------------------------------------------------------------- built objects
@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory) -> Path:
    from tgl_mm.datasets.synthetic.generate import make_synthetic_mevis_m

    root = tmp_path_factory.mktemp('synthetic_mevis_m')
    make_synthetic_mevis_m(root, seed=0, num_videos=3, num_valid_u=1, num_valid=1, size=64,
                           overwrite=True, progress=False, log=None)
    return root


def build_train_dataset(rel_path: str, data_root: Path, lazy: bool = False):
    from mmengine.registry import DefaultScope

    from tgl_mm.registry import DATASETS

    cfg = Config.fromfile(REPO / rel_path)
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        return DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(data_root),
                                   lazy_init=lazy))


def pipeline_steps(dataset) -> tuple[Any, Any]:
    """The built frame sampler and OSS step of a dataset's pipeline."""
    from tgl_mm.datasets.transforms import ObjectSelectiveSupervision
    from tgl_mm.datasets.transforms.frame_sampling import BaseFrameSampler

    steps = dataset.pipeline.transforms
    sampler = [t for t in steps if isinstance(t, BaseFrameSampler)]
    oss = [t for t in steps if isinstance(t, ObjectSelectiveSupervision)]
    assert len(sampler) == 1 and len(oss) == 1
    return sampler[0], oss[0]


@pytest.mark.parametrize('rel_path', ABLATION_CONFIGS + sorted(set(REFERENCES.values())))
def test_settings_reach_the_built_pipeline(rel_path, synthetic_root):
    """Every config's train pipeline holds the sampler and OSS its row defines."""
    row = Path(rel_path).stem if Path(rel_path).parent.name in ('ablations', 'tiny') else None
    values = row_values(row)
    # lazily: the pipeline is built, the annotations are not read
    sampler, oss = pipeline_steps(build_train_dataset(rel_path, synthetic_root, lazy=True))
    assert type(sampler).__name__ == 'MomentAwareFrameSampler'
    assert sampler.mplus_ratio == values[SAMPLING]
    assert sampler.num_frames == (4 if 'tiny' in rel_path else 8)
    assert oss.enabled is values[OSS]


def test_baseline_samples_uniform_random_frames_and_no_oss(synthetic_root):
    """The tiny baseline's clips are RandomFrameSampler's clips, with every object kept; the
    full recipe's clips hold their M+ quota."""
    from tgl_mm.datasets import RandomFrameSampler
    from tgl_mm.datasets.sample_rng import SampleIndex

    baseline = build_train_dataset('configs/tgl/ablations/tiny/t2_baseline.py', synthetic_root)
    full = build_train_dataset(REFERENCES[ABLATIONS / 'tiny'], synthetic_root)
    random_sampler = RandomFrameSampler(num_frames=4)
    mplus_in_baseline = []
    for index in range(len(baseline)):
        key = (7, 0, index)
        out = baseline[SampleIndex(index, key)]['data_samples']
        info = dict(baseline.get_data_info(index), rng=np.random.default_rng(key))
        expected = random_sampler(info)
        assert out.metainfo['frame_inds'] == expected['frame_inds']
        assert np.asarray(out.gt_obj_keep).all()
        mplus_in_baseline.append(int(np.asarray(expected['gt_mplus']).sum()))
        full_out = full[SampleIndex(index, key)]['data_samples']
        assert np.asarray(full_out.gt_mplus).sum() >= math.ceil(4 * 0.5)
    assert min(mplus_in_baseline) < 2   # the baseline does not keep the M+ quota


@pytest.mark.parametrize('row', [None, *ROWS])
def test_head_settings_reach_the_processing_plan(row):
    """The tiny configs' MDP head: which frames take the sentence, which write memory, and the
    first frame processed (an M+ frame under M+ first, frame 0 in temporal order)."""
    import torch

    from tgl_mm.registry import MODELS
    rel_path = f'configs/tgl/ablations/tiny/{row}.py' if row else REFERENCES[ABLATIONS / 'tiny']
    head_cfg = Config.fromfile(REPO / rel_path).model.head
    head = MODELS.build(dict(head_cfg, checkpoint=None, checkpoint_sha256=None))
    values = row_values(row)
    mplus = torch.tensor([False, False, True, True, False, False])
    plan = head.plan(mplus)
    assert plan[0].frame == (2 if values[ORDER] == 'mplus_first' else 0)
    writers = {step.frame for step in plan if step.write}
    assert writers == ({2, 3} if values[MEMORY] == 'mplus' else set(range(6)))
    adapted = head.adapted_frames(mplus)
    assert adapted.tolist() == (mplus.tolist() if values[MFE] else [True] * 6)
