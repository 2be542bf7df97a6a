"""Draw RVOS predictions during validation and testing."""
from __future__ import annotations

import os.path as osp
import re
from collections.abc import Sequence

from mmengine.hooks import Hook
from mmengine.visualization import Visualizer

from tgl_mm.registry import HOOKS

from .video_frames import sample_frames

__all__ = ['RVOSVisualizationHook']

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


def _safe(name: object) -> str:
    return _UNSAFE.sub('_', str(name)) or '_'


@HOOKS.register_module()
class RVOSVisualizationHook(Hook):
    """Mask-overlay renderings of predictions (and ground truth when the split has masks).

    Validation: every ``interval``-th iteration, the first sample of the batch goes to the
    visualizer's backends (e.g. ``vis_data/`` of the work dir). Testing: every ``interval``-th
    sample is drawn to ``<test_out_dir>/<video_id>/<exp_id>.png`` (``tools/test.py --show-dir DIR``
    sets ``draw=True, test_out_dir=DIR``; a relative ``DIR`` is relative to the current
    directory), or to the backends when ``test_out_dir`` is None.

    Frames come from ``metainfo['frame_paths']`` when the dataset provides it, otherwise they are
    reconstructed from the packed inputs (resize undone).

    Args:
        draw: draw at all (off by default: drawing costs time).
        interval: draw every ``interval``-th validation iteration / test sample.
        test_out_dir: where test renderings go (see above).
        show: also open a window (needs a display).
        wait_time: seconds the window stays open.
        draw_gt, draw_pred: which mask rows to draw.
        max_frames: frames per rendering (overrides the visualizer's when given).
    """

    priority = 'NORMAL'

    def __init__(self, draw: bool = False, interval: int = 1, test_out_dir: str | None = None,
                 show: bool = False, wait_time: float = 0., draw_gt: bool = True,
                 draw_pred: bool = True, max_frames: int | None = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.draw = draw
        self.interval = interval
        self.test_out_dir = test_out_dir
        self.show = show
        self.wait_time = wait_time
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred
        self.max_frames = max_frames
        self._test_index = 0

    def _visualizer(self) -> Visualizer:
        vis = Visualizer.get_current_instance()
        if self.max_frames is not None and hasattr(vis, 'max_frames'):
            vis.max_frames = self.max_frames
        return vis

    @staticmethod
    def _inputs(data_batch: dict | None, i: int):
        if not data_batch or 'inputs' not in data_batch:
            return None
        inputs = data_batch['inputs']
        return inputs[i] if isinstance(inputs, Sequence) or hasattr(inputs, 'shape') else None

    def _draw(self, sample, inputs, step: int, out_file: str | None) -> None:
        vis = self._visualizer()
        frames = sample_frames(sample, inputs)
        meta = sample.metainfo
        name = f'{_safe(meta.get("video_id"))}__{_safe(meta.get("exp_id"))}'
        vis.add_datasample(name, frames, data_sample=sample, draw_gt=self.draw_gt,
                           draw_pred=self.draw_pred, show=self.show, wait_time=self.wait_time,
                           out_file=out_file, step=step)

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict | None = None,
                       outputs: Sequence | None = None) -> None:
        if not self.draw or not outputs:
            return
        step = runner.iter + batch_idx
        if step % self.interval == 0:
            self._draw(outputs[0], self._inputs(data_batch, 0), step, None)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict | None = None,
                        outputs: Sequence | None = None) -> None:
        if not self.draw or not outputs:
            return
        for i, sample in enumerate(outputs):
            self._test_index += 1
            if (self._test_index - 1) % self.interval:
                continue
            out_file = None
            if self.test_out_dir is not None:
                meta = sample.metainfo
                out_file = osp.join(self.test_out_dir, _safe(meta.get('video_id')),
                                    f'{_safe(meta.get("exp_id"))}.png')
            self._draw(sample, self._inputs(data_batch, i), self._test_index, out_file)
