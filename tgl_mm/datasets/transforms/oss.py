"""Object-level selective supervision targets (TGL paper §4.4, Eq. 6)."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from tgl_mm.registry import TRANSFORMS


def oss_keep(obj_mplus: np.ndarray) -> np.ndarray:
    """bool (N,): object i is kept iff its moment meets the clip (``obj_mplus`` bool (N, T))."""
    return np.asarray(obj_mplus, dtype=bool).any(axis=1)


@TRANSFORMS.register_module()
class ObjectSelectiveSupervision(BaseTransform):
    """Build the clip's target from the kept objects (Eq. 6).

    An object's masks are kept only if its moment ``M_i`` intersects the sampled frames; the
    target is the union of the kept objects' masks on every sampled frame.
    ``enabled=False`` (the ablation) keeps every object.

    Required keys: ``gt_obj_mplus`` (N, T) (from a frame sampler), optionally ``gt_obj_masks``
    (N, T, H, W) (from ``LoadExpressionMasks(per_object=True)``; absent for splits without masks).
    Added keys: ``gt_obj_keep`` bool (N,), ``gt_masks`` bool (T, H, W) (when masks are loaded);
    ``gt_obj_masks`` is removed.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def transform(self, results: dict) -> dict:
        obj_mplus = np.asarray(results['gt_obj_mplus'], dtype=bool)
        keep = oss_keep(obj_mplus) if self.enabled else np.ones(len(obj_mplus), dtype=bool)
        results['gt_obj_keep'] = keep
        obj_masks = results.pop('gt_obj_masks', None)
        if obj_masks is not None:
            if len(obj_masks) != len(keep):
                raise ValueError(f'{len(obj_masks)} object masks for {len(keep)} objects')
            kept = obj_masks[keep]
            results['gt_masks'] = kept.any(axis=0) if len(kept) else \
                np.zeros(obj_masks.shape[1:], dtype=bool)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(enabled={self.enabled})'
