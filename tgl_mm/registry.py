"""tgl_mm registries: children of mmengine's root registries, scope ``tgl_mm``.

Every component of the project is registered here so that configs with
``default_scope = 'tgl_mm'`` build them by ``type`` name, without ``custom_imports``:
each registry lists the modules to import (``locations``) the first time a name is looked up.

Downstream code registers its own components in these registries (or in child registries of
its own scope) and selects them from a config, with no change to tgl_mm; see docs/components.md.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'tgl_mm'

# --- runtime -------------------------------------------------------------------------------------
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope=SCOPE, locations=['tgl_mm.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS, scope=SCOPE,
    locations=['tgl_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['tgl_mm.engine'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE,
    locations=['tgl_mm.engine', 'tgl_mm.visualization'])
STRATEGIES = Registry(
    'strategy', parent=MMENGINE_STRATEGIES, scope=SCOPE, locations=['tgl_mm.engine'])
LOG_PROCESSORS = Registry(
    'log processor', parent=MMENGINE_LOG_PROCESSORS, scope=SCOPE, locations=['tgl_mm.engine'])
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, scope=SCOPE, locations=['tgl_mm.engine'])

# --- data ----------------------------------------------------------------------------------------
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['tgl_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE, locations=['tgl_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=['tgl_mm.datasets'])

# --- models --------------------------------------------------------------------------------------
MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['tgl_mm.models'])
MODEL_WRAPPERS = Registry(
    'model wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE, locations=['tgl_mm.engine'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['tgl_mm.models'])
TASK_UTILS = Registry(
    'task util', parent=MMENGINE_TASK_UTILS, scope=SCOPE, locations=['tgl_mm.models'])
# Temporal grounding strategies (oracle, none, moment retrieval, VLM top-k, hybrid, TAM):
# each turns a video sample into its M+ frame flags at inference. mmengine has no such root, so
# this registry is a root of its own (downstream scopes may make children of it).
GROUNDINGS = Registry('grounding', scope=SCOPE, locations=['tgl_mm.models.grounding'])

# --- optimisation --------------------------------------------------------------------------------
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE, locations=['tgl_mm.engine'])
OPTIM_WRAPPERS = Registry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE, locations=['tgl_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=['tgl_mm.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['tgl_mm.engine'])

# --- evaluation and visualisation ----------------------------------------------------------------
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['tgl_mm.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE, locations=['tgl_mm.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=['tgl_mm.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE, locations=['tgl_mm.visualization'])
INFERENCERS = Registry(
    'inferencer', parent=MMENGINE_INFERENCERS, scope=SCOPE, locations=['tgl_mm.apis'])


def registered_groundings() -> dict[str, type]:
    """The grounding strategies by their ``GROUNDINGS`` names (``none``, ``oracle``, ...), in
    registration order: the one list of grounding names (help texts, the demo page and checks
    read it). Each class is also registered under its class name; those aliases are left out.
    """
    GROUNDINGS.import_from_location()
    return {name: cls for name, cls in GROUNDINGS.module_dict.items()
            if name != cls.__name__}
