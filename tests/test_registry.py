import mmengine.registry as mm_registry
import pytest

import tgl_mm.registry as registry

NAMES = ['MODELS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS', 'HOOKS', 'METRICS', 'EVALUATOR',
         'VISUALIZERS', 'VISBACKENDS', 'LOOPS', 'OPTIMIZERS', 'PARAM_SCHEDULERS', 'TASK_UTILS']


@pytest.mark.parametrize('name', NAMES)
def test_registry_is_scoped_child_of_mmengine(name):
    ours = getattr(registry, name)
    assert ours.scope == 'tgl_mm'
    assert ours.parent is getattr(mm_registry, name)
    assert ours._locations, f'{name} has no locations: configs would need custom_imports'


def test_mmengine_components_reachable_through_child_scope():
    # a config with default_scope='tgl_mm' still builds mmengine's own components
    import mmengine.optim  # noqa: F401  (registers torch optimizers, as the Runner does)
    import torch
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('tgl_mm'):
        opt = registry.OPTIMIZERS.build(
            dict(type='Adam', params=[torch.nn.Parameter(torch.zeros(1))], lr=1e-5))
    assert isinstance(opt, torch.optim.Adam)
