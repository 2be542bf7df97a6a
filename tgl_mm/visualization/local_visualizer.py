"""The RVOS visualizer: mask overlays of a video sample's predictions and ground truth."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.visualization import Visualizer

from tgl_mm.registry import VISUALIZERS
from tgl_mm.utils.fileio import atomic_write_bytes

from .overlay import PALETTE, encode_png, put_title, render_frame_grid

__all__ = ['RVOSLocalVisualizer']


def _as_bool(x) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(
        bool)


@VISUALIZERS.register_module()
class RVOSLocalVisualizer(Visualizer):
    """Draws a referring-expression sample as a grid: one row per mask set (prediction, ground
    truth), one column per selected frame, titled with the video, expression id and text.

    Args:
        name: instance name (mmengine's ``Visualizer.get_instance`` key).
        vis_backends: mmengine visualisation backends (``add_image`` targets).
        save_dir: directory of the backends.
        max_frames: frames (columns) drawn per sample, evenly spaced over the video.
        tile_width: width of one frame tile in pixels.
        alpha: mask opacity.
        pred_color, gt_color: RGB colours of the prediction and ground-truth overlays.
    """

    def __init__(self, name: str = 'visualizer', image: np.ndarray | None = None,
                 vis_backends: list[dict] | None = None, save_dir: str | None = None,
                 max_frames: int = 8, tile_width: int = 320, alpha: float = 0.5,
                 pred_color: Sequence[int] = PALETTE[0],
                 gt_color: Sequence[int] = PALETTE[1]) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        if max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        self.max_frames = max_frames
        self.tile_width = tile_width
        self.alpha = alpha
        self.pred_color = tuple(pred_color)
        self.gt_color = tuple(gt_color)

    def render(self, frames: np.ndarray, data_sample=None, draw_gt: bool = True,
               draw_pred: bool = True, frame_inds: Sequence[int] | None = None) -> np.ndarray:
        """The grid image (uint8 RGB) for ``frames`` (T, H, W, 3) and ``data_sample``.

        ``pred_masks`` / ``gt_masks`` are drawn when present and at the frames' size (training
        samples carry ``gt_masks`` at the padded input size and are then skipped).
        """
        frames = np.asarray(frames)
        rows: dict[str, np.ndarray] = {}
        colors = []
        title = ''
        if data_sample is not None:
            meta = data_sample.metainfo
            title = f'{meta.get("video_id", "?")}/{meta.get("exp_id", "?")}: ' \
                    f'{meta.get("text", "")}'
            for key, label, want, color in (('pred_masks', 'pred', draw_pred, self.pred_color),
                                            ('gt_masks', 'gt', draw_gt, self.gt_color)):
                if want and key in data_sample:
                    masks = _as_bool(getattr(data_sample, key))
                    if masks.shape == frames.shape[:3]:
                        rows[label] = masks
                        colors.append(color)
            names = meta.get('frame_names')
        else:
            names = None
        if names is not None and len(names) != len(frames):
            names = None
        grid = render_frame_grid(frames, rows, frame_inds=frame_inds, max_frames=self.max_frames,
                                 tile_width=self.tile_width, frame_names=names,
                                 colors=colors or None, alpha=self.alpha)
        return put_title(grid, title, height=26) if title else grid

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: str | os.PathLike | None = None,
                       step: int = 0, frame_inds: Sequence[int] | None = None) -> np.ndarray:
        """Render ``data_sample`` on the video ``image`` (uint8 RGB ``(T, H, W, 3)``).

        The grid is written to ``out_file`` (PNG, atomically) when given, else sent to the
        visualisation backends under ``name``; ``show`` also opens a window. Returns the grid.
        """
        grid = self.render(image, data_sample, draw_gt=draw_gt, draw_pred=draw_pred,
                           frame_inds=frame_inds)
        if show:
            self.show(grid, win_name=name, wait_time=wait_time)
        if out_file is not None:
            atomic_write_bytes(out_file, encode_png(grid))
        else:
            self.add_image(name, grid, step)
        return grid
