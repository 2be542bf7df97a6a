"""Render a video's predicted masks (and its ground truth) from files on disk."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from tgl_mm import formats
from tgl_mm.formats import read_mask_png
from tgl_mm.structures.video_data_sample import VideoDataSample

from .local_visualizer import RVOSLocalVisualizer

__all__ = ['load_expression_sample', 'render_prediction_overlay']


def load_expression_sample(split_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                           video_id: str, exp_id: str,
                           with_gt: bool = True) -> tuple[np.ndarray, VideoDataSample]:
    """Frames ``(T, H, W, 3)`` and a sample with ``pred_masks`` (and ``gt_masks`` when the split
    has ``mask_dict.json`` and ``with_gt``) of one expression of a MeViS-layout split.

    Missing prediction frames are drawn empty; errors name the file, video and expression.
    """
    split_dir = Path(split_dir)
    videos = formats.load_meta_expressions(split_dir / 'meta_expressions.json',
                                            require_ids=False)
    if video_id not in videos:
        raise KeyError(f'video {video_id!r} is not in {split_dir / "meta_expressions.json"}')
    video = videos[video_id]
    if exp_id not in video.expressions:
        raise KeyError(f'expression {video_id}/{exp_id} is not in '
                       f'{split_dir / "meta_expressions.json"}')
    exp = video.expressions[exp_id]
    frames = formats.read_rgb_frames(
        [formats.frame_path(split_dir, video_id, f) for f in video.frames], dict(video=video_id))
    size = frames.shape[1:3]
    pred = np.zeros((len(video.frames), *size), bool)
    for t, f in enumerate(video.frames):
        path = Path(pred_dir) / video_id / exp_id / f'{f}.png'
        if path.is_file():
            m = read_mask_png(path)
            if m.shape != size:
                raise ValueError(f'{path}: mask is {m.shape[1]}x{m.shape[0]}, the frame '
                                 f'{size[1]}x{size[0]}')
            pred[t] = m
    sample = VideoDataSample(metainfo=dict(video_id=video_id, exp_id=exp_id, text=exp.text,
                                           frame_names=list(video.frames)))
    sample.pred_masks = torch.from_numpy(pred)
    mask_path = split_dir / 'mask_dict.json'
    if with_gt and exp.anno_ids and mask_path.is_file():
        mask_dict = formats.load_mask_dict(mask_path)
        gt = formats.expression_target(mask_dict, exp.anno_ids, range(len(video.frames)), size,
                                        video=video_id, expression=exp_id,
                                        frame_names=video.frames, source=str(mask_path))
        sample.gt_masks = torch.from_numpy(gt)
    return frames, sample


def render_prediction_overlay(split_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                              video_id: str, exp_id: str, with_gt: bool = True,
                              max_frames: int = 8, tile_width: int = 320) -> np.ndarray:
    """Overlay grid (uint8 RGB) of one expression: prediction row, GT row when available."""
    frames, sample = load_expression_sample(split_dir, pred_dir, video_id, exp_id, with_gt)
    vis = RVOSLocalVisualizer(name='render_prediction_overlay', max_frames=max_frames,
                              tile_width=tile_width)
    return vis.render(frames, sample)
