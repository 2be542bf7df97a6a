"""FSDP for ``FlexibleRunner`` on mmengine 0.10.7 and current torch, on CPUs (gloo) and GPUs.

``TGLFSDPStrategy`` is mmengine's ``FSDPStrategy`` with the fixes it needs here:

1. optimizer state is loaded with torch's ``FSDP.optim_state_dict_to_load(model, optim,
   optim_state_dict)`` argument order (mmengine passes the state dict first, as torch < 2.1 did);
2. sharded (``state_dict_cfg='local'``) checkpoints hold ShardedTensors: their classes are added
   to the weights-only allow-list while this strategy loads one;
3. on machines without CUDA the model is sharded on the CPU (``device_id=cpu``; mmengine passes
   ``LOCAL_RANK``, a CUDA index);
4. a checkpoint (file or directory of shards) is written under a temporary name and renamed when
   every rank has finished, so an interrupted save never leaves a partial checkpoint.

Wrap policies are referenced by registered name (a ``functools.partial`` cannot be written in a
text config): ``size_based_auto_wrap_policy`` (torch's, with ``min_num_params``) and
:func:`module_class_wrap_policy` (wrap modules by class name).
"""
from __future__ import annotations

import os
import os.path as osp
import shutil

import torch
from mmengine._strategy import FSDPStrategy
from mmengine.dist import barrier, get_world_size, is_main_process
from torch import nn
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp.wrap import size_based_auto_wrap_policy

from tgl_mm.registry import FUNCTIONS, STRATEGIES
from tgl_mm.utils.checkpoint import safe_checkpoint_globals
from tgl_mm.utils.dist import is_cpu_only

FUNCTIONS.register_module(name='size_based_auto_wrap_policy', module=size_based_auto_wrap_policy)


@FUNCTIONS.register_module()
def module_class_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int,
                             module_classes: list[str] | tuple[str, ...] = ()) -> bool:
    """FSDP auto-wrap policy: wrap every module whose class name is in ``module_classes``.

    Config: ``auto_wrap_policy=dict(type='module_class_wrap_policy',
    module_classes=['MultiScaleBlock', 'MemoryAttentionLayer'])``.
    """
    if recurse:
        return True
    return type(module).__name__ in module_classes


def sharded_tensor_globals() -> tuple[list, list]:
    """Globals and ``(owner, attribute)`` pairs a sharded (``state_dict_cfg='local'``) FSDP
    checkpoint pickles (for :func:`tgl_mm.utils.checkpoint.safe_checkpoint_globals`)."""
    from torch.distributed._shard.metadata import ShardMetadata
    from torch.distributed._shard.sharded_tensor import Shard, ShardedTensor
    from torch.distributed._shard.sharded_tensor.metadata import (
        MEM_FORMAT_ENCODING,
        ShardedTensorMetadata,
        TensorProperties,
    )
    from torch.distributed._shard.sharding_spec import ChunkShardingSpec, EnumerableShardingSpec
    from torch.distributed.remote_device import _remote_device

    classes = [ShardedTensor, ShardedTensor.ProcessGroupState, Shard, ShardMetadata,
               ShardedTensorMetadata, TensorProperties, MEM_FORMAT_ENCODING, ChunkShardingSpec,
               EnumerableShardingSpec, _remote_device]
    return classes, [(ShardedTensor, 'ProcessGroupState')]


@STRATEGIES.register_module()
class TGLFSDPStrategy(FSDPStrategy):
    """mmengine's ``FSDPStrategy`` with the fixes listed in this module's docstring.

    Same arguments as :class:`mmengine._strategy.FSDPStrategy`. Example::

        runner_type = 'FlexibleRunner'
        strategy = dict(
            type='TGLFSDPStrategy',
            model_wrapper=dict(auto_wrap_policy=dict(type='size_based_auto_wrap_policy',
                                                     min_num_params=1_000_000)),
            state_dict_cfg='local')
    """

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        if is_cpu_only():
            self.model_wrapper = dict(self.model_wrapper or dict(type='MMFullyShardedDataParallel'))
            self.model_wrapper.setdefault('device_id', torch.device('cpu'))
        return super()._wrap_model(model)

    def load_checkpoint(self, filename: str, **kwargs) -> dict:
        classes, attributes = sharded_tensor_globals()
        with safe_checkpoint_globals(classes, attributes):
            return super().load_checkpoint(filename, **kwargs)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        optim_state_dict = FSDP.optim_state_dict_to_load(
            self.model, self.optim_wrapper.optimizer, state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)

    def save_checkpoint(self, filename: str, **kwargs) -> None:
        head, tail = osp.split(filename)
        partial = osp.join(head, f'.{tail}.partial')
        if is_main_process() and osp.lexists(partial):
            _remove(partial)
        if get_world_size() > 1:
            barrier()
        super().save_checkpoint(partial, **kwargs)
        if get_world_size() > 1:
            barrier()  # every rank's shard is complete
        if is_main_process():
            if osp.lexists(filename):
                _remove(filename)
            os.replace(partial, filename)
        if get_world_size() > 1:
            barrier()


def _remove(path: str) -> None:
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)
