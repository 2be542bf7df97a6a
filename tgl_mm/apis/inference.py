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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint

from tgl_mm.apis.streaming import (
    has_visible_character,
    mplus_flags,
    segment_expressions,
    user_video_fields,
)
from tgl_mm.apis.video_io import FrameSource, open_frames
from tgl_mm.registry import MODELS, TRANSFORMS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils.checkpoint import install_checkpoint_safety, load_weights_into

if TYPE_CHECKING:   # the inference interface, for annotations (importing it imports the models)
    from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor


@dataclass
class SegmentationResult:
    """What :func:`segment_video` returns for one sentence on one video.

    Attributes:
        masks: bool (T, H, W) at the input frames' size.
        mplus: bool (T,) frames the grounding put in M+.
        object_scores: float (T,) SAM2 object-score logits (<= 0: object absent).
        frame_scores: float (T,) grounding relevance (e.g. TAM logits), or None.
        frame_names: names of the frames (file stems, or ``00000``... for arrays).
        grounding: the name of the grounding that ran (``tam``, ``none``, ``oracle``, ...).
        warnings: the run's warnings (e.g. no TAM to ground with, a sentence cut).
    """

    masks: np.ndarray
    mplus: np.ndarray
    object_scores: np.ndarray
    frame_scores: np.ndarray | None
    frame_names: list[str]
    grounding: str = ''
    warnings: list[str] = field(default_factory=list)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` this torch build can use.

    Raises:
        ValueError: not a device name.
        RuntimeError: a CUDA device on a build or machine without CUDA, or a GPU index that
            does not exist (the message says what is available).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f'device {device!r} is not a torch device (cpu, cuda, cuda:1, ...)') \
            from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            build = 'a CPU-only torch build' if torch.version.cuda is None else \
                'no usable CUDA GPU here'
            raise RuntimeError(f'device {device!r}: {build} (torch {torch.__version__}); use '
                               '--device cpu or install a CUDA torch build')
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise RuntimeError(f'device {device!r}: only {count} CUDA device(s) '
                               f'(cuda:0-cuda:{count - 1})')
    return dev


def init_model(config: str | os.PathLike | Config, checkpoint: str | None = None,
               device: str = 'cpu', cfg_options: dict | None = None,
               strict: bool = True) -> torch.nn.Module:
    """Build the model of a config and load a checkpoint (weights-only, see docs/checkpoints.md:
    installs :func:`~tgl_mm.utils.checkpoint.install_checkpoint_safety` first).

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
    check_device(device)
    install_checkpoint_safety()
    if checkpoint is not None and '://' not in str(checkpoint) \
            and not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    if not isinstance(config, Config) and not os.path.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
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


def read_frames(source: str | os.PathLike | Sequence[np.ndarray]
                ) -> tuple[np.ndarray, list[str]]:
    """Frames ``(T, H, W, 3)`` RGB uint8 and their names, from a video file, a folder of images
    (natural name order, hidden files skipped) or a sequence of RGB arrays. This holds the
    whole video: inference streams instead (:func:`segment_video`)."""
    frames = open_frames(source)
    array = np.stack(list(frames))
    return array, [frames.frame_name(i) for i in range(len(array))]


def build_sample(frames: np.ndarray, names: list[str], text: str, image_size: int,
                 mplus: Sequence[bool] | np.ndarray | None = None
                 ) -> tuple[torch.Tensor, VideoDataSample]:
    """Resize/pad frames like the test pipeline and pack them with the sentence.

    Returns:
        uint8 (T, 3, S, S) inputs and the :class:`VideoDataSample`; with ``mplus`` given, the
        sample carries it as ``gt_mplus`` (so ``oracle`` grounding uses it).
    """
    text = ' '.join(str(text).split())
    if not text or not has_visible_character(text):
        raise ValueError(f'segment_video needs a sentence with words, got {text!r}')
    results = dict(user_video_fields(names, text, '0', frames.shape[1:3]), frames=frames,
                   img_shape=frames.shape[1:3])
    if mplus is not None:
        results.update(gt_mplus=mplus_flags(mplus, len(frames)), has_moments=True)
    results = TRANSFORMS.build(dict(type='VideoResizePad', size=image_size,
                                    resize_masks=False))(results)
    packed = TRANSFORMS.build(dict(type='PackVideoInputs'))(results)
    return packed['inputs'], packed['data_samples']


def segment_video(model: StreamingSegmentor,
                  frames: str | os.PathLike | Sequence[np.ndarray] | FrameSource,
                  text: str, grounding: str | dict | None = None,
                  mplus: Sequence[bool] | np.ndarray | None = None,
                  tmp_dir: str | os.PathLike | None = None) -> SegmentationResult:
    """Segment the object(s) a sentence refers to in every frame of a video.

    Streams (see :func:`~tgl_mm.apis.streaming.segment_expressions`): the frames are decoded
    once into a compact spill file and encoded chunk by chunk; only the returned masks grow with
    the video. For several sentences, or masks written to disk as they come, use
    ``segment_expressions`` (or ``tools/infer.py``).

    Args:
        model: a model from :func:`init_model` (any
            :class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor`).
        frames: a video file (mp4, avi, mov, webm, mkv), a folder of frame images (natural
            name order: ``frame_2`` before ``frame_10``; hidden ``.*`` files skipped) or a
            sequence of uint8 RGB arrays ``(H, W, 3)`` (e.g. a ``(T, H, W, 3)`` uint8 array);
            other dtypes are a TypeError.
        text: the referring expression.
        grounding: how M+ is chosen: a ``GROUNDINGS`` name (``'none'``, ``'tam'``, ...) or
            config; default: ``'oracle'`` when ``mplus`` is given, else the model's TAM
            (``'tam'``) when it has one, else ``'none'`` with a warning that the model cannot
            ground itself. ``mplus`` with a grounding that ignores it is an error. The
            grounding that ran is ``result.grounding``.
        mplus: optional per-frame M+ flags you already know (e.g. from your own moment
            retrieval); used by ``oracle`` grounding.
        tmp_dir: folder for the spill file (default: the system's temporary folder).

    Returns:
        :class:`SegmentationResult`.
    """
    masks: dict[int, np.ndarray] = {}

    def keep(k: int, t: int, mask: np.ndarray) -> None:
        masks[t] = mask

    run = segment_expressions(model, frames, [text], keep, grounding=grounding,
                              mplus=None if mplus is None else [mplus], tmp_dir=tmp_dir)
    return SegmentationResult(masks=np.stack([masks[t] for t in range(run.num_frames)]),
                              mplus=run.mplus[0], object_scores=run.object_scores[0],
                              frame_scores=run.frame_scores[0], frame_names=run.frame_names,
                              grounding=run.grounding, warnings=list(run.warnings))
