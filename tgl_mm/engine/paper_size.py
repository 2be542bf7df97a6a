"""The paper's models with random weights, and what one training step and streaming inference
cost: shared by ``tools/gpu_check.py`` and ``benchmarks/bench_paper_size.py``.

:func:`random_weight_config` turns a config (``configs/tgl/tgl_hiera-b_mevis-m.py``, ...) into
the same architecture with random weights in the official layouts (a SAM2 ``.pt`` from
:func:`~tgl_mm.models.utils.random_weights.save_random_sam2_checkpoint`, a RoBERTa-base-shaped
text encoder from :func:`~tgl_mm.models.backbones.text_encoder.save_tiny_text_encoder`), written
once into a folder; no file of the paper's is needed. :func:`train_steps` times training
iterations on a synthetic clip (:func:`synthetic_clip`); :func:`stream_ours` and
:func:`stream_sam2` run the same frame folder (:func:`write_moving_squares`) through our
streaming inference with K sentences and through sam2's ``SAM2VideoPredictor`` tracking K
objects on the same SAM2 weights. Peak memory: the device's peak allocation on CUDA, the
process's peak RSS (``ru_maxrss``, since the process started) on the CPU.
"""
from __future__ import annotations

import math
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import Config

from tgl_mm.models.backbones.text_encoder import ROBERTA_BASE_SHAPE
from tgl_mm.structures import VideoDataSample

#: text-encoder presets for :func:`random_weight_config`: RoBERTa-base's shape (the paper's), or
#: a tiny one for CPU smoke runs
TEXT_PRESETS = {
    'roberta-base': ROBERTA_BASE_SHAPE,
    'tiny': dict(hidden_size=32, num_layers=4, num_heads=4),
}


def random_weight_config(config: str | Path | Config, files_dir: str | Path,
                         image_size: int | None = None, text: str = 'roberta-base',
                         arch: str | None = None) -> Config:
    """``config`` with random weights in the official layouts instead of its files.

    Args:
        config: a TGL config (path or Config), e.g. ``configs/tgl/tgl_hiera-b_mevis-m.py``.
        files_dir: where the random SAM2 ``.pt`` and text encoder are written (once; reused).
        image_size: input size (the config's when None): image encoder, head and the
            datasets' ``VideoResizePad``.
        text: a :data:`TEXT_PRESETS` name; with ``'tiny'`` the adapter and prompt widths follow.
        arch: another SAM2 arch (e.g. ``'tiny'`` for CPU smoke runs); the adapter's vision
            widths follow.

    Returns:
        the Config: ``load_from`` and ``model.pretrained`` None, checkpoints' SHA-256 None.
    """
    from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
    from tgl_mm.models.utils.random_weights import save_random_sam2_checkpoint
    from tgl_mm.models.utils.sam2_settings import get_sam2_settings, stage_channels
    cfg = config.copy() if isinstance(config, Config) else Config.fromfile(str(config))
    files = Path(files_dir)
    files.mkdir(parents=True, exist_ok=True)
    model = cfg.model
    arch = arch or model.image_backbone.arch
    ckpt = files / f'random_{arch}.pt'
    if not ckpt.exists():
        save_random_sam2_checkpoint(ckpt, arch)
    shape = TEXT_PRESETS[text]
    text_dir = files / f'text_{text}'
    if not text_dir.exists():
        save_tiny_text_encoder(text_dir, 'roberta', **shape)
    model.image_backbone.update(arch=arch, checkpoint=str(ckpt), checkpoint_sha256=None)
    model.head.update(arch=arch, checkpoint=str(ckpt), checkpoint_sha256=None)
    if image_size is not None:
        model.image_backbone.image_size = model.head.image_size = image_size
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            for transform in cfg.get(loader, {}).get('dataset', {}).get('pipeline', []):
                if transform.get('type') == 'VideoResizePad':
                    transform['size'] = image_size
    model.text_backbone.model_dir = str(text_dir)
    width = shape['hidden_size']
    model.neck.text_dim = model.prompt.text_dim = width
    settings = get_sam2_settings(arch)
    model.neck.vision_dims = tuple(stage_channels(settings)[i]
                                   for i in model.neck.get('adapter_stages', (1, 2, 3)))
    model.prompt.prompt_dim = settings['hidden_dim']
    if text == 'tiny':
        model.neck.update(dim=32, num_heads=4, text_layer_ends=None)
        model.prompt.hidden_dim = 32
    model.pretrained = None
    cfg.load_from = None
    return cfg


def synthetic_clip(num_frames: int, size: int, text: str = 'the square moving to the right',
                   batch: int = 1, seed: int = 0) -> dict:
    """A training batch as the dataloader gives it: ``inputs`` B uint8 (T, 3, S, S) clips of a
    square moving right on noise, ``data_samples`` with ``gt_masks`` (T, S, S), ``gt_mplus``
    (half the frames, as the paper's sampler) and ``frame_inds``."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    side = max(4, size // 6)
    for b in range(batch):
        clip = torch.randint(0, 60, (num_frames, 3, size, size), generator=gen, dtype=torch.uint8)
        masks = torch.zeros(num_frames, size, size, dtype=torch.bool)
        for t in range(num_frames):
            x = (t * size // (2 * max(num_frames, 1))) % (size - side)
            masks[t, size // 3:size // 3 + side, x:x + side] = True
        clip[:, 0][masks] = 220
        sample = VideoDataSample(metainfo=dict(
            text=text, video_id=f'clip{b}', exp_id='0', frame_inds=list(range(num_frames)),
            img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size)))
        sample.gt_masks = masks
        sample.gt_mplus = torch.arange(num_frames) < math.ceil(num_frames / 2)
        inputs.append(clip)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def reset_peak_memory(device: str) -> None:
    """Start a peak-memory window (CUDA; the CPU's ``ru_maxrss`` cannot be reset)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(device: str) -> float:
    """Peak allocated CUDA memory since :func:`reset_peak_memory` (device ``cuda``), else the
    process's peak RSS in MB."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_train_model(cfg: Config, device: str, amp: bool) -> tuple[torch.nn.Module, Any]:
    """The config's model (initialised) on ``device`` and its optimizer wrapper (``amp``: as
    ``tools/train.py --amp``: bfloat16 autocast on the CPU, mmengine's AMP on CUDA)."""
    from mmengine.optim import build_optim_wrapper

    from tgl_mm.engine.runner_utils import enable_amp
    from tgl_mm.registry import MODELS
    from tgl_mm.utils import register_all_modules
    register_all_modules()
    cfg = cfg.copy()
    if amp:
        enable_amp(cfg)
        if device.startswith('cuda') and cfg.optim_wrapper.type == 'AmpOptimWrapper':
            cfg.optim_wrapper.dtype = 'bfloat16'
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device).train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def train_steps(model: torch.nn.Module, optim_wrapper: Any, data: dict, iters: int,
                device: str, warmup: int = 1) -> dict:
    """``warmup`` then ``iters`` training iterations (``model.train_step``) on one batch.

    Returns:
        ``it_per_s`` and ``s_per_it`` (timed iterations), ``peak_mb``
        (:func:`peak_memory_mb`, over warm-up and timed iterations), ``losses`` (per
        iteration) and ``loss_finite``.
    """
    reset_peak_memory(device)
    losses = []
    start = None
    for i in range(warmup + iters):
        if i == warmup:
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            start = time.perf_counter()
        log = model.train_step(data, optim_wrapper)
        losses.append(float(torch.as_tensor(log['loss']).detach()))
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return dict(it_per_s=iters / seconds, s_per_it=seconds / iters,
                peak_mb=peak_memory_mb(device), losses=losses,
                loss_finite=bool(np.isfinite(losses).all()))


def trained_share(model: torch.nn.Module) -> dict:
    """``trained_m``, ``total_m`` (millions of parameters) and ``trained_percent``."""
    trained, total = model.parameter_counts()['all']
    return dict(trained_m=trained / 1e6, total_m=total / 1e6,
                trained_percent=100 * trained / max(total, 1))


def write_moving_squares(folder: str | Path, num_frames: int, num_objects: int,
                         size: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    """A JPEG frame folder (``%05d.jpg``) of ``num_objects`` squares moving right (written once)
    and each square's mask on frame 0 (bool (H, W))."""
    import cv2
    folder = Path(folder)
    h, w = size
    side = h // (2 * num_objects + 1)
    rows = [(2 * k + 1) * side for k in range(num_objects)]
    if not (folder / f'{num_frames - 1:05d}.jpg').exists():
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(num_frames):
            frame = np.full((h, w, 3), 50, np.uint8)
            for k, y in enumerate(rows):
                x = (5 * t * (k + 1)) % (w - side)
                frame[y:y + side, x:x + side] = (40 + 50 * k % 200, 200, 220 - 25 * k)
            cv2.imwrite(str(folder / f'{t:05d}.jpg'), frame)
    masks = []
    for y in rows:
        mask = np.zeros((h, w), bool)
        mask[y:y + side, 0:side] = True
        masks.append(mask)
    return masks


def stream_ours(model: torch.nn.Module, folder: str | Path, num_sentences: int,
                device: str) -> dict:
    """Our streaming inference of the folder with K sentences, ``none`` grounding (every frame
    M+: the K sentences run as one batch). Returns ``frames``, ``seconds``, ``fps`` (video
    frames per second), ``peak_mb``."""
    from tgl_mm.apis.streaming import segment_expressions
    texts = [f'the square number {k} moving right' for k in range(num_sentences)]
    reset_peak_memory(device)
    start = time.perf_counter()
    with torch.inference_mode():
        run = segment_expressions(model, folder, texts, lambda k, t, m: None, grounding='none')
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return dict(frames=run.num_frames, seconds=seconds, fps=run.num_frames / seconds,
                peak_mb=peak_memory_mb(device))


def build_sam2_video_predictor(checkpoint: str | Path, arch: str, image_size: int,
                               device: str) -> torch.nn.Module:
    """sam2's ``SAM2VideoPredictor`` with the modules and ``SAM2Base`` arguments of our head
    (single-mask output, as our head's ``multimask_output=False``), holding ``checkpoint``."""
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    from tgl_mm.models.utils.sam2_checkpoint import load_sam2_state_dict
    from tgl_mm.models.utils.sam2_settings import build_sam2_model, get_sam2_settings
    settings = get_sam2_settings(arch, image_size=image_size,
                                 overrides=dict(model=dict(multimask_output_in_sam=False)))
    predictor = build_sam2_model(settings, cls=SAM2VideoPredictor)
    predictor.load_state_dict(load_sam2_state_dict(str(checkpoint)), strict=True)
    return predictor.to(device).eval()


def stream_sam2(predictor: torch.nn.Module, folder: str | Path, masks: list[np.ndarray],
                device: str) -> dict:
    """sam2's ``SAM2VideoPredictor`` on the folder (``init_state`` with
    ``offload_video_to_cpu`` and ``offload_state_to_cpu``, as for long videos), the K objects
    prompted with their masks on frame 0, ``propagate_in_video``; outputs dropped. Returns as
    :func:`stream_ours`."""
    from functools import partialmethod

    from tqdm import tqdm
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)
    reset_peak_memory(device)
    start = time.perf_counter()
    with torch.inference_mode():
        state = predictor.init_state(str(folder), offload_video_to_cpu=True,
                                     offload_state_to_cpu=True)
        for obj, mask in enumerate(masks, 1):
            predictor.add_new_mask(state, frame_idx=0, obj_id=obj, mask=mask)
        for _ in predictor.propagate_in_video(state):
            pass
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    num = state['num_frames']
    return dict(frames=num, seconds=seconds, fps=num / seconds, peak_mb=peak_memory_mb(device))


__all__ = ['TEXT_PRESETS', 'random_weight_config', 'synthetic_clip', 'build_train_model',
           'train_steps', 'trained_share', 'write_moving_squares', 'stream_ours',
           'build_sam2_video_predictor', 'stream_sam2', 'peak_memory_mb', 'reset_peak_memory']
