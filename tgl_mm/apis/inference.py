"""High-level inference: build a model from a config + checkpoint, segment a video with a sentence.

Example::

    from tgl_mm.apis import init_model, segment_video
    model = init_model('configs/tgl/tgl_tiny_synthetic.py', 'work_dirs/demo/iter_300.pth')
    result = segment_video(model, 'data/synthetic_mevis_m/valid_u/JPEGImages/vid_0000',
                           'the circle jumping', grounding='none')
    result.masks        # bool (T, H, W) at the frames' size
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint

from tgl_mm.registry import GROUNDINGS, MODELS, TRANSFORMS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils.checkpoint import load_weights_into

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


@dataclass
class SegmentationResult:
    """What :func:`segment_video` returns for one sentence on one video.

    Attributes:
        masks: bool (T, H, W) at the input frames' size.
        mplus: bool (T,) frames the grounding put in M+.
        object_scores: float (T,) SAM2 object-score logits (<= 0: object absent).
        frame_scores: float (T,) grounding relevance (e.g. TAM logits), or None.
        frame_names: names of the frames (file stems, or ``00000``... for arrays).
    """

    masks: np.ndarray
    mplus: np.ndarray
    object_scores: np.ndarray
    frame_scores: np.ndarray | None
    frame_names: list[str]


def init_model(config: str | os.PathLike | Config, checkpoint: str | None = None,
               device: str = 'cpu', cfg_options: dict | None = None,
               strict: bool = True) -> torch.nn.Module:
    """Build the model of a config and load a checkpoint (weights-only, see docs/checkpoints.md).

    Args:
        config: config file path or :class:`mmengine.Config`.
        checkpoint: a checkpoint saved by the Runner (``.pth``), or None for the config's own
            initialisation (e.g. official SAM2 weights named in the config).
        device: torch device.
        cfg_options: overrides merged into the config (as ``--cfg-options``).
        strict: refuse a checkpoint that does not fit the model (missing, unexpected or wrongly
            shaped weights: :class:`~tgl_mm.utils.checkpoint.CheckpointMismatchError`); False
            loads the matching part with a warning.

    Returns:
        the model in eval mode, with the config as ``model.cfg``.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(os.fspath(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_weights_into(model, _load_checkpoint(checkpoint, map_location='cpu'), checkpoint,
                          strict=strict)
    else:
        model.init_weights()
    model.cfg = cfg
    return model.to(device).eval()


def _check_frame_array(frame: object, index: int) -> np.ndarray:
    """A caller's frame as uint8 ``(H, W, 3)``; anything else is a ``TypeError``/``ValueError``
    naming the frame (no silent conversion: float frames in [0, 1] would become black, wider
    integers would wrap)."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f'frame {index}: expected a numpy array, got {type(frame).__name__}')
    if frame.dtype != np.uint8:
        hint = (' (floats in [0, 1]: (frame * 255).round().astype(np.uint8))'
                if frame.dtype.kind == 'f' else '')
        raise TypeError(f'frame {index}: frames must be uint8 RGB in [0, 255], got dtype '
                        f'{frame.dtype}{hint}')
    if frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        raise ValueError(f'frame {index}: expected a non-empty (H, W, 3) RGB array, got shape '
                         f'{frame.shape}')
    return frame


def read_frames(source: str | os.PathLike | Sequence[np.ndarray]
                ) -> tuple[np.ndarray, list[str]]:
    """Frames ``(T, H, W, 3)`` RGB uint8 and their names, from a folder of images (sorted by
    name) or a sequence of uint8 RGB arrays ``(H, W, 3)`` of one size.

    Raises:
        FileNotFoundError: no such folder, or no image in it.
        DataFormatError: an image file is unreadable, truncated or empty (names the file).
        TypeError: an array is not uint8 (float frames are not rescaled silently).
        ValueError: shapes are not ``(H, W, 3)`` or differ between frames; no frame.
    """
    if isinstance(source, (str, os.PathLike)):
        from tgl_mm.datasets.transforms.loading import read_rgb

        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f'frame folder not found: {folder}')
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in {folder}')
        frames = [read_rgb(str(path), dict(frame=path.stem)) for path in files]
        names = [p.stem for p in files]
    else:
        frames = [_check_frame_array(f, i) for i, f in enumerate(source)]
        if not frames:
            raise ValueError('segment_video needs at least one frame')
        names = [f'{i:05d}' for i in range(len(frames))]
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f'frames must all be (H, W, 3) RGB of one size, got shapes {shapes}')
    return np.ascontiguousarray(np.stack(frames)), names


def build_sample(frames: np.ndarray, names: list[str], text: str, image_size: int,
                 mplus: Sequence[bool] | np.ndarray | None = None
                 ) -> tuple[torch.Tensor, VideoDataSample]:
    """Resize/pad frames like the test pipeline and pack them with the sentence.

    Returns:
        uint8 (T, 3, S, S) inputs and the :class:`VideoDataSample`; with ``mplus`` given, the
        sample carries it as ``gt_mplus`` (so ``oracle`` grounding uses it).
    """
    text = ' '.join(str(text).split())
    if not text:
        raise ValueError('segment_video needs a non-empty sentence')
    num = len(frames)
    results = dict(frames=frames, frame_names=names, frame_inds=list(range(num)),
                   num_video_frames=num, video_id='video', exp_id='0', text=text,
                   dataset_name='user', split='inference', obj_ids=[],
                   ori_shape=frames.shape[1:3], img_shape=frames.shape[1:3])
    if mplus is not None:
        flags = np.asarray(mplus, dtype=bool)
        if flags.shape != (num,):
            raise ValueError(f'mplus must have one flag per frame ({num}), got {flags.shape}')
        results.update(gt_mplus=flags, has_moments=True)
    results = TRANSFORMS.build(dict(type='VideoResizePad', size=image_size,
                                    resize_masks=False))(results)
    packed = TRANSFORMS.build(dict(type='PackVideoInputs'))(results)
    return packed['inputs'], packed['data_samples']


@torch.no_grad()
def segment_video(model: torch.nn.Module, frames: str | os.PathLike | Sequence[np.ndarray],
                  text: str, grounding: str | dict | None = None,
                  mplus: Sequence[bool] | np.ndarray | None = None) -> SegmentationResult:
    """Segment the object(s) a sentence refers to in every frame of a video.

    Args:
        model: a model from :func:`init_model`.
        frames: a folder of frame images (sorted by name) or a sequence of uint8 RGB arrays
            ``(H, W, 3)`` (e.g. a ``(T, H, W, 3)`` uint8 array); other dtypes are a TypeError.
        text: the referring expression.
        grounding: how M+ is chosen: a ``GROUNDINGS`` name (``'none'``, ``'tam'``, ...) or
            config; default: ``'oracle'`` when ``mplus`` is given, else ``'none'``.
        mplus: optional per-frame M+ flags you already know (e.g. from your own moment
            retrieval); used by ``oracle`` grounding.

    Returns:
        :class:`SegmentationResult`.
    """
    array, names = read_frames(frames)
    inputs, sample = build_sample(array, names, text, model.head.image_size, mplus)
    if grounding is None:
        grounding = 'oracle' if mplus is not None else 'none'
    if isinstance(grounding, str):
        grounding = dict(type=grounding)
    previous = model.grounding
    model.grounding = GROUNDINGS.build(grounding)
    try:
        data = model.data_preprocessor(dict(inputs=[inputs], data_samples=[sample]), False)
        sample = model.predict(data['inputs'], data['data_samples'])[0]
    finally:
        model.grounding = previous
    frame_scores = sample.pred_frame_scores.numpy() if 'pred_frame_scores' in sample else None
    return SegmentationResult(masks=sample.pred_masks.numpy(), mplus=sample.pred_mplus.numpy(),
                              object_scores=sample.pred_object_scores.numpy(),
                              frame_scores=frame_scores, frame_names=names)
