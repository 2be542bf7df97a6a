"""The checks of ``tools/gpu_check.py``: one command for a GPU machine that shows, in one JSON,
whether this code runs there and what it costs (see docs/get_started.md).

Sections (each records ``ok`` and, on failure, ``error``; a failing section does not stop the
others):

- ``env``: torch, CUDA, the device, bfloat16 support; bf16 autocast sanity (a matmul and its
  backward under autocast: bfloat16 output, close to float32, finite gradients).
- ``train``: ``iters`` AMP training iterations of the config's architecture (the paper config:
  Hiera-B+ and a RoBERTa-base-shaped text encoder, random weights in the official layouts, at
  its 1024 px) on a synthetic clip of ``num_frames`` frames, batch 1: iterations/s, peak memory,
  losses finite, share of parameters trained; ``train_checkpointed``: a few iterations with
  ``image_backbone.activation_checkpointing=True``.
- ``dist_train``: ``tools/dist_train.sh configs/tgl/tgl_tiny_synthetic.py 1 --amp`` for a few
  iterations on generated synthetic data (one process; NCCL on CUDA, gloo on the CPU).
- ``streaming``: our streaming inference of a ``video_frames``-frame video with two sentences
  beside sam2's ``SAM2VideoPredictor`` tracking two objects, on the same random SAM2 weights:
  frames/s and peak memory of each, and the ratio.

``tiny=True`` runs every section with tiny sizes (the ``tiny`` SAM2, 64 px, a tiny text
encoder, 3 iterations, an 8-frame video) so the whole check runs on a CPU in seconds: the
default test suite runs it, so the command cannot rot.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tgl_mm.engine import paper_size as ps

REPO = Path(__file__).resolve().parents[2]
PAPER_CONFIG = REPO / 'configs/tgl/tgl_hiera-b_mevis-m.py'
TINY_TRAIN_CONFIG = REPO / 'configs/tgl/tgl_tiny_synthetic.py'


@dataclass
class CheckSizes:
    """What the check runs: the paper's sizes, or :meth:`tiny` ones for a CPU smoke run."""

    arch: str | None = None          # None: the config's (Hiera-B+)
    image_size: int | None = None    # None: the config's (1024)
    text: str = 'roberta-base'
    num_frames: int = 8
    iters: int = 20
    checkpointed_iters: int = 3
    dist_iters: int = 3
    video_frames: int = 300

    @classmethod
    def tiny(cls) -> CheckSizes:
        return cls(arch='tiny', image_size=64, text='tiny', num_frames=4, iters=3,
                   checkpointed_iters=1, dist_iters=2, video_frames=8)


def section(results: dict, name: str, fn: Callable[[], dict]) -> None:
    """Run one section into ``results[name]`` (``ok``, ``seconds``, its figures or ``error``)."""
    start = time.perf_counter()
    try:
        out = dict(ok=True, **fn())
    except Exception as err:  # recorded, the other sections still run
        out = dict(ok=False, error=f'{type(err).__name__}: {err}',
                   traceback=traceback.format_exc(limit=8))
    out['seconds'] = time.perf_counter() - start
    results[name] = out
    print(f'[gpu_check] {name}: {"ok" if out["ok"] else "FAILED " + out["error"]} '
          f'({out["seconds"]:.1f} s)', flush=True)


def check_env(device: str) -> dict:
    """Versions and the device; bfloat16 autocast on a matmul and its backward."""
    info = dict(torch=torch.__version__, cuda=torch.version.cuda, python=platform.python_version(),
                device=device, cuda_available=torch.cuda.is_available())
    if device.startswith('cuda'):
        info.update(device_name=torch.cuda.get_device_name(device),
                    capability='.'.join(map(str, torch.cuda.get_device_capability(device))),
                    memory_gb=torch.cuda.get_device_properties(device).total_memory / 2 ** 30,
                    bf16_supported=torch.cuda.is_bf16_supported(),
                    nccl_available=torch.distributed.is_nccl_available())
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(256, 256, generator=gen).to(device).requires_grad_()
    b = torch.randn(256, 256, generator=gen).to(device)
    with torch.autocast(device.split(':')[0], dtype=torch.bfloat16):
        out = a @ b
    ref = (a @ b).detach()
    rel = float((out.detach().float() - ref).norm() / ref.norm())
    out.float().square().mean().backward()
    info.update(autocast_dtype=str(out.dtype), autocast_rel_error=rel,
                autocast_grad_finite=bool(torch.isfinite(a.grad).all()))
    if out.dtype != torch.bfloat16 or rel > 2e-2 or not info['autocast_grad_finite']:
        raise RuntimeError(f'bf16 autocast is off: {info}')
    return info


def check_train(config: Path, files: Path, sizes: CheckSizes, device: str, iters: int,
                checkpointing: bool) -> dict:
    """AMP training iterations of ``config``'s architecture with random weights."""
    cfg = ps.random_weight_config(config, files, image_size=sizes.image_size, text=sizes.text,
                                  arch=sizes.arch)
    cfg.model.image_backbone.activation_checkpointing = checkpointing
    model, optim = ps.build_train_model(cfg, device, amp=True)
    size = model.head.image_size
    data = ps.synthetic_clip(sizes.num_frames, size)
    out = ps.train_steps(model, optim, data, iters, device)
    if not out['loss_finite']:
        raise RuntimeError(f'a loss is not finite: {out["losses"]}')
    return dict(out, image_size=size, num_frames=sizes.num_frames, batch=1,
                activation_checkpointing=checkpointing, optim_wrapper=type(optim).__name__,
                **ps.trained_share(model))


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def check_dist_train(work: Path, iters: int) -> dict:
    """``tools/dist_train.sh`` with one process for a few AMP iterations of the tiny config on
    generated synthetic data."""
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    data = work / 'synthetic'
    if not (data / 'valid_u').exists():
        make_synthetic_mevis_m(data, num_videos=2, num_valid_u=1, num_valid=1, size=64,
                               min_frames=10, max_frames=12, progress=False, log=None)
    options = [f'{loader}.dataset.data_root={data}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=100000',
                'default_hooks.checkpoint.interval=100000', 'default_hooks.logger.interval=1']
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port(),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                         os.environ.get('PYTHONPATH')])))
    cmd = ['bash', str(REPO / 'tools/dist_train.sh'), str(TINY_TRAIN_CONFIG), '1', '--amp',
           '--work-dir', str(work / 'dist_train'), '--cfg-options', *options]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    out = dict(command=' '.join(cmd[:6]) + ' ...', returncode=proc.returncode,
               backend=backend, distributed='Distributed training: True' in log,
               reached_last_iter=f'Iter(train) [{iters}/{iters}]' in log)
    if proc.returncode != 0 or not out['distributed'] or not out['reached_last_iter']:
        raise RuntimeError(f'dist_train.sh failed ({out}); log tail:\n{log[-3000:]}')
    return out


def check_streaming(config: Path, files: Path, sizes: CheckSizes, device: str,
                    num_sentences: int = 2) -> dict:
    """Our streaming inference with two sentences beside ``SAM2VideoPredictor`` tracking two
    objects, same random SAM2 weights, same JPEG frames."""
    from tgl_mm.apis import init_model
    cfg = ps.random_weight_config(config, files, image_size=sizes.image_size, text=sizes.text,
                                  arch=sizes.arch)
    folder = files / f'video_{sizes.video_frames}'
    masks = ps.write_moving_squares(folder, sizes.video_frames, num_sentences)
    model = init_model(cfg, device=device)
    size = model.head.image_size
    ours = ps.stream_ours(model, folder, num_sentences, device)
    del model
    predictor = ps.build_sam2_video_predictor(cfg.model.head.checkpoint,
                                              cfg.model.head.arch, size, device)
    sam2 = ps.stream_sam2(predictor, folder, masks, device)
    return dict(image_size=size, sentences=num_sentences, ours=ours, sam2=sam2,
                fps_ratio_ours_to_sam2=ours['fps'] / sam2['fps'],
                note='peak_mb: peak CUDA allocation per run; on the CPU the process peak RSS '
                     'so far (not per run)')


def run_gpu_check(out: str | Path, work_dir: str | Path, device: str | None = None,
                  tiny: bool = False, config: str | Path = PAPER_CONFIG,
                  sections: tuple[str, ...] = ('env', 'train', 'train_checkpointed',
                                               'dist_train', 'streaming')) -> dict:
    """Run the check and write one JSON to ``out`` (also returned): ``sizes``, then one entry
    per section (see the module doc), ``ok`` (all passed) and ``seconds``."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: this torch build or machine has no CUDA')
    if not tiny and not device.startswith('cuda'):
        raise RuntimeError('the full check needs a CUDA device (here: none); --tiny runs it on '
                           'the CPU with tiny sizes')
    sizes = CheckSizes.tiny() if tiny else CheckSizes()
    work = Path(work_dir)
    files = work / 'random_weights'
    config = Path(config)
    start = time.perf_counter()
    results: dict = dict(sizes=asdict(sizes), config=str(config), tiny=tiny)
    steps = dict(
        env=lambda: check_env(device),
        train=lambda: check_train(config, files, sizes, device, sizes.iters, False),
        train_checkpointed=lambda: check_train(config, files, sizes, device,
                                               sizes.checkpointed_iters, True),
        dist_train=lambda: check_dist_train(work, sizes.dist_iters),
        streaming=lambda: check_streaming(config, files, sizes, device))
    for name in sections:
        section(results, name, steps[name])
        if device.startswith('cuda'):
            torch.cuda.empty_cache()
    results['ok'] = all(results[name]['ok'] for name in sections)
    results['seconds'] = time.perf_counter() - start
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


__all__ = ['CheckSizes', 'run_gpu_check', 'check_env', 'check_train', 'check_dist_train',
           'check_streaming', 'PAPER_CONFIG']
