"""Mixed precision without loss scaling: ``torch.autocast`` around the forward pass.

mmengine's ``AmpOptimWrapper`` refuses to run without CUDA/NPU/MLU, and CPU autocast computes in
bfloat16, which keeps float32's exponent range and so needs no gradient scaler. ``--amp`` selects
this wrapper on machines without CUDA (and mmengine's ``AmpOptimWrapper``, fp16 with dynamic loss
scaling, on GPUs).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from mmengine.device import get_device
from mmengine.optim import OptimWrapper
from torch import nn

from tgl_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs under ``torch.autocast``.

    Parameters, gradients and optimizer state stay float32; autocast-eligible ops (matmul,
    convolution, ...) in the forward pass run in ``dtype``.

    Args:
        dtype: autocast dtype name, ``'bfloat16'`` (default; the one CPU autocast supports
            everywhere) or ``'float16'``.
        device_type: ``'cpu'``/``'cuda'``; default: the device mmengine trains on.
        **kwargs: as for :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', device_type: str | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'AutocastOptimWrapper: dtype must be "bfloat16" or "float16", '
                             f'got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type or get_device()

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast(self.device_type, self.cast_dtype):
            yield
