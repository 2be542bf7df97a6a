"""Frame samplers: the first pipeline step, choosing which frames of a video form the clip.

They are mmcv transforms registered in ``TRANSFORMS`` (not mmengine ``DATA_SAMPLERS``, which
choose dataset *indices*): a frame sampler reads one sample's moments and writes the clip's frame
indices and moment flags:

- ``frame_inds`` (list[int], length T, temporal order; repeated only when the video or its M+ is
  shorter than needed)
- ``gt_mplus`` bool (T,): the frame is in M+
- ``gt_obj_mplus`` bool (N, T): the frame is in M_i of object i
"""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from tgl_mm.datasets.sample_rng import Rng, sample_rng
from tgl_mm.formats import spans_to_mask


def moment_flags(results: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame moment flags of a whole video from a data info.

    Returns:
        ``mplus`` bool (T_V,) and ``obj_mplus`` bool (N, T_V).
    """
    n = int(results['num_video_frames'])
    mplus = spans_to_mask(results['mplus_spans'], n)
    obj = results.get('obj_moments') or []
    obj_mplus = np.stack([spans_to_mask(s, n) for s in obj]) if obj \
        else np.zeros((0, n), dtype=bool)
    return mplus, obj_mplus


def choose(pool: np.ndarray, k: int, rng: Rng) -> np.ndarray:
    """``k`` items of ``pool``: distinct when the pool is large enough, otherwise every item
    once plus random repeats, drawn from ``rng`` (see :mod:`tgl_mm.datasets.sample_rng`)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(pool) == 0:
        raise ValueError('cannot sample from an empty pool')
    if len(pool) >= k:
        return rng.choice(pool, k, replace=False).astype(np.int64)
    extra = rng.choice(pool, k - len(pool), replace=True)
    return np.concatenate([pool, extra]).astype(np.int64)


class BaseFrameSampler(BaseTransform):
    """Write ``frame_inds``, ``gt_mplus`` and ``gt_obj_mplus`` from :meth:`sample`."""

    def sample(self, mplus: np.ndarray, rng: Rng) -> np.ndarray:
        """Frame indices (any order) given the video's M+ flags ``(T_V,)``, drawn from ``rng``
        (the sample's generator, :func:`~tgl_mm.datasets.sample_rng.sample_rng`)."""
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        mplus, obj_mplus = moment_flags(results)
        inds = np.sort(self.sample(mplus, sample_rng(results)), kind='stable')
        results['frame_inds'] = inds.tolist()
        results['gt_mplus'] = mplus[inds]
        results['gt_obj_mplus'] = obj_mplus[:, inds]
        return results


def check_num_frames(num_frames: int) -> int:
    if not isinstance(num_frames, int) or isinstance(num_frames, bool) or num_frames < 1:
        raise ValueError(f'num_frames must be a positive int, got {num_frames!r}')
    return num_frames
