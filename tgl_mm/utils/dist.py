"""Distributed start-up that also works on CPU-only builds.

mmengine's ``init_dist`` always binds a CUDA device (``torch.cuda.set_device``), so on a machine
without CUDA it fails. :func:`init_cpu_process_group` starts a gloo process group first; the
Runner (and FlexibleRunner strategies) then see an initialised group and skip ``init_dist``.
With CUDA, nothing is done here and mmengine initialises nccl as usual.
"""
from __future__ import annotations

import datetime
import os
import subprocess

import torch
import torch.distributed as dist

__all__ = [
    'LAUNCHERS', 'destroy_process_group', 'init_cpu_process_group', 'is_cpu_only',
    'slurm_to_torch_env',
]

LAUNCHERS = ('none', 'pytorch', 'slurm')
_TORCHRUN_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


def is_cpu_only() -> bool:
    """True when this process cannot use CUDA (CPU build or no visible device)."""
    return not torch.cuda.is_available()


def slurm_to_torch_env(port: int | None = None) -> None:
    """Set torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) from
    the SLURM_* variables of an ``srun`` task. Existing MASTER_ADDR/MASTER_PORT win; the port
    falls back to ``port``, then 29500. The master is the first host of ``SLURM_NODELIST``.
    """
    try:
        rank, world_size = os.environ['SLURM_PROCID'], os.environ['SLURM_NTASKS']
        local_rank, node_list = os.environ['SLURM_LOCALID'], os.environ['SLURM_NODELIST']
    except KeyError as err:
        raise RuntimeError(f'--launcher slurm: {err.args[0]} is not set; start the job with '
                           'srun (see tools/slurm_train.sh)') from None
    os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'] = (
        rank, world_size, local_rank)
    if 'MASTER_ADDR' not in os.environ:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', node_list], check=True,
                               capture_output=True, text=True).stdout.split()
        os.environ['MASTER_ADDR'] = hosts[0]
    os.environ.setdefault('MASTER_PORT', str(port if port is not None else 29500))


def init_cpu_process_group(launcher: str, timeout: int | float | None = None) -> bool:
    """Start a gloo process group for ``launcher`` if this machine has no CUDA.

    Args:
        launcher: ``'none'`` (nothing to do), ``'pytorch'`` (torchrun's environment) or
            ``'slurm'`` (srun's environment, converted with :func:`slurm_to_torch_env`).
        timeout: collective timeout in seconds (mmengine's ``env_cfg.dist_cfg.timeout``).

    Returns:
        True if this call created the process group; False when there was nothing to do
        (not distributed, CUDA available -- mmengine starts nccl --, or already initialised).
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'unknown launcher {launcher!r}; expected one of {LAUNCHERS}')
    if launcher == 'none' or not is_cpu_only() or dist.is_initialized():
        return False
    if launcher == 'slurm':
        slurm_to_torch_env()
    missing = [k for k in _TORCHRUN_VARS if k not in os.environ and k != 'LOCAL_RANK']
    if missing:
        raise RuntimeError(
            f'--launcher {launcher}: environment variables {", ".join(missing)} are not set; '
            'start with torchrun, e.g. `bash tools/dist_train.sh CONFIG 2`')
    os.environ.setdefault('LOCAL_RANK', '0')
    kwargs = {}
    if timeout is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    dist.init_process_group(backend='gloo', init_method='env://', **kwargs)
    return True


def destroy_process_group() -> None:
    """Tear down the default process group if one exists (gloo can abort at exit otherwise)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
