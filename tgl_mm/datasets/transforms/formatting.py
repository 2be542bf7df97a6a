"""Pack a processed sample into ``dict(inputs, data_samples)``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from tgl_mm.registry import TRANSFORMS
from tgl_mm.structures import VideoDataSample

#: metainfo keys every packed sample has (see tgl_mm/structures/video_data_sample.py)
REQUIRED_META_KEYS = ('video_id', 'exp_id', 'text', 'dataset_name', 'split', 'frame_names',
                      'frame_inds', 'num_video_frames', 'obj_ids', 'ori_shape', 'img_shape',
                      'pad_shape', 'scale_factor', 'flip')
#: metainfo keys packed when the data info has them
OPTIONAL_META_KEYS = ('has_moments', 'frame_dir', 'frame_ext', 'expression_set', 'image_id')


@TRANSFORMS.register_module()
class PackVideoInputs(BaseTransform):
    """Pack into ``dict(inputs=uint8 Tensor (T, 3, S, S) RGB, data_samples=VideoDataSample)``.

    Ground truth: ``gt_masks`` (bool), ``gt_mplus`` (T,), ``gt_obj_mplus`` (N, T),
    ``gt_obj_keep`` (N,), each when present in the results. ``frame_names`` in the metainfo are
    the names of the carried frames (length T).

    Args:
        extra_meta_keys: further result keys to copy into the metainfo.
    """

    def __init__(self, extra_meta_keys: Sequence[str] = ()) -> None:
        self.extra_meta_keys = tuple(extra_meta_keys)

    def transform(self, results: dict) -> dict:
        frames = results['frames']
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[1] != frames.shape[2]:
            raise ValueError(f'PackVideoInputs expects square RGB frames (T, S, S, 3), got '
                             f'{frames.shape}: put VideoResizePad in the pipeline')
        inputs = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
        results = dict(results)
        results.setdefault('pad_shape', tuple(frames.shape[1:3]))
        results.setdefault('scale_factor', (1.0, 1.0))
        results.setdefault('flip', False)
        names = results['frame_names']
        meta = {}
        for key in REQUIRED_META_KEYS:
            if key == 'frame_names':
                meta[key] = [names[t] for t in results['frame_inds']]
            elif key not in results:
                raise KeyError(f'PackVideoInputs: the pipeline did not produce {key!r}')
            else:
                meta[key] = results[key]
        meta['ori_shape'] = tuple(int(x) for x in meta['ori_shape'])
        meta['img_shape'] = tuple(int(x) for x in meta['img_shape'])
        meta['pad_shape'] = tuple(int(x) for x in meta['pad_shape'])
        meta['frame_inds'] = [int(t) for t in meta['frame_inds']]
        for key in OPTIONAL_META_KEYS + self.extra_meta_keys:
            if key in results:
                meta[key] = results[key]
        sample = VideoDataSample(metainfo=meta)
        for key in ('gt_masks', 'gt_mplus', 'gt_obj_mplus', 'gt_obj_keep'):
            if key in results:
                setattr(sample, key, torch.from_numpy(np.ascontiguousarray(results[key],
                                                                           dtype=bool)))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(extra_meta_keys={self.extra_meta_keys})'
