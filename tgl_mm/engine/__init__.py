"""Runtime: hooks, optimizer wrappers, distributed strategies and the tools' library side."""
from .hooks import AtomicCheckpointHook
from .loops import EpochBasedTrainLoop, IterBasedTrainLoop, ValLoop
from .optimizers import AutocastOptimWrapper
from .runner import TGLRunner
from .runner_utils import (
                           apply_test_args,
                           apply_train_args,
                           build_runner,
                           check_cfg_option_keys,
                           check_grounding_files,
                           default_work_dir,
                           enable_amp,
                           enable_visualization,
                           launch_session,
                           load_config,
                           set_format_only_without_masks,
                           set_grounding,
                           set_launcher,
                           set_non_strict,
                           set_prediction_dir,
                           set_randomness,
                           set_resume,
                           set_work_dir,
                           use_cpu_ddp,
)
from .strategies import TGLFSDPStrategy, module_class_wrap_policy

__all__ = [
    'AtomicCheckpointHook', 'AutocastOptimWrapper', 'EpochBasedTrainLoop', 'IterBasedTrainLoop',
    'TGLFSDPStrategy', 'TGLRunner', 'ValLoop', 'apply_test_args', 'apply_train_args',
    'build_runner', 'check_cfg_option_keys', 'check_grounding_files', 'default_work_dir',
    'enable_amp', 'enable_visualization', 'launch_session', 'load_config',
    'module_class_wrap_policy',
    'set_format_only_without_masks', 'set_grounding', 'set_launcher', 'set_non_strict',
    'set_prediction_dir', 'set_randomness', 'set_resume', 'set_work_dir', 'use_cpu_ddp',
]
