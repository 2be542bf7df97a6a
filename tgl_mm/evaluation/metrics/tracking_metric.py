"""J&F of mask-prompted tracking (stage 0): semi-supervised VOS, scored after the prompt frame."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from tgl_mm.evaluation.functional.davis_jf import j_and_f
from tgl_mm.evaluation.metrics.rvos_metric import _get, _numpy
from tgl_mm.registry import METRICS


def tracking_scores(pred: np.ndarray, gt: np.ndarray, prompt_frame: int) -> dict[str, float]:
    """J, F and J&F (percent) of one track over the frames after ``prompt_frame``, with the
    same scores for copying the prompt frame's ground truth to every later frame (the
    no-learning reference a tracker must beat).

    Args:
        pred, gt: bool (T, H, W) masks at the same size.
        prompt_frame: the frame whose ground truth was given (no later frame: an empty dict).
    """
    later = slice(prompt_frame + 1, None)
    if prompt_frame < 0 or prompt_frame + 1 >= len(gt):
        return {}
    j, f = j_and_f(pred[later], gt[later])
    copy = np.broadcast_to(gt[prompt_frame], gt[later].shape)
    jc, fc = j_and_f(copy, gt[later])
    return {'J': 100 * j.mean(), 'F': 100 * f.mean(), 'J&F': 50 * (j.mean() + f.mean()),
            'copy_J&F': 50 * (jc.mean() + fc.mean())}


@METRICS.register_module()
class TrackingMetric(BaseMetric):
    """Mean J, F, J&F over tracks (frames after each track's prompt frame), plus ``copy_J&F``:
    the same for copying the prompt mask (see :func:`tracking_scores`). Samples need
    ``pred_masks``, ``gt_masks`` bool (T, H, W) and metainfo ``prompt_frame``
    (:class:`~tgl_mm.models.segmentors.SAM2Pretrainer` sets it); tracks with no later frame are
    not counted."""

    default_prefix = 'tracking'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            where = f'track {_get(sample, "video_id")}/{_get(sample, "exp_id")}'
            pred, gt = _numpy(_get(sample, 'pred_masks')), _numpy(_get(sample, 'gt_masks'))
            prompt_frame = _get(sample, 'prompt_frame')
            if pred is None or gt is None or prompt_frame is None:
                raise ValueError(f'{where}: TrackingMetric needs pred_masks, gt_masks and '
                                 'metainfo prompt_frame')
            scores = tracking_scores(pred.astype(bool), gt.astype(bool), int(prompt_frame))
            if scores:
                self.results.append(scores)

    def compute_metrics(self, results: list) -> dict:
        if not results:
            raise ValueError('TrackingMetric: no track with a frame after its prompt')
        out = {key: float(np.mean([r[key] for r in results])) for key in results[0]}
        out['tracks'] = len(results)
        print_log(f'tracking: J&F {out["J&F"]:.1f} over {len(results)} tracks (copying the '
                  f'prompt mask: {out["copy_J&F"]:.1f})', logger='current')
        return out
