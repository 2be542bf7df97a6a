"""Recover a sample's RGB frames at the original size, for drawing."""
from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from tgl_mm.formats import read_rgb_frames

__all__ = ['frames_from_inputs', 'sample_frames']


def frames_from_inputs(inputs: torch.Tensor | np.ndarray, img_shape: tuple[int, int],
                       ori_shape: tuple[int, int], flip: bool = False) -> np.ndarray:
    """Undo the test pipeline's keep-ratio resize + bottom/right padding.

    Args:
        inputs: packed frames uint8 ``(T, 3, S, S)`` RGB.
        img_shape: ``(h, w)`` of the resized content inside the padded square.
        ori_shape: ``(H, W)`` of the original frames.
        flip: the frames were flipped horizontally by the pipeline (flipped back here).

    Returns:
        uint8 RGB ``(T, H, W, 3)``.
    """
    x = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f'expected packed frames (T, 3, S, S), got shape {x.shape}')
    if x.dtype != np.uint8:
        x = np.clip(x, 0, 255).astype(np.uint8)
    h, w = int(img_shape[0]), int(img_shape[1])
    big_h, big_w = int(ori_shape[0]), int(ori_shape[1])
    out = np.empty((x.shape[0], big_h, big_w, 3), np.uint8)
    for t in range(x.shape[0]):
        frame = np.ascontiguousarray(x[t, :, :h, :w].transpose(1, 2, 0))
        if flip:
            frame = frame[:, ::-1]
        out[t] = cv2.resize(frame, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    return out


def sample_frames(data_sample, inputs: torch.Tensor | np.ndarray | None = None) -> np.ndarray:
    """Frames of a test sample at its original size: the original images when the metainfo says
    where they are (``frame_paths``, or ``frame_dir`` + ``frame_names`` + ``frame_ext`` as the
    datasets record it), else reconstructed from the packed ``inputs`` (T, 3, S, S)."""
    meta = data_sample.metainfo
    if meta.get('frame_paths'):
        return read_rgb_frames(list(meta['frame_paths']))
    if meta.get('frame_dir') and meta.get('frame_names'):
        ext = meta.get('frame_ext', '.jpg')
        return read_rgb_frames([os.path.join(meta['frame_dir'], name + ext)
                            for name in meta['frame_names']])
    if inputs is None:
        raise ValueError(f'sample {meta.get("video_id")}/{meta.get("exp_id")}: no frame_paths '
                         'in metainfo and no inputs to draw on')
    ori = meta.get('ori_shape')
    img = meta.get('img_shape', ori)
    if ori is None:
        raise ValueError(f'sample {meta.get("video_id")}/{meta.get("exp_id")}: metainfo has no '
                         'ori_shape')
    return frames_from_inputs(inputs, img, ori, bool(meta.get('flip', False)))
