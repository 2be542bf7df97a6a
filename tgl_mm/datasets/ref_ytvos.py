"""Ref-YouTube-VOS (and the YTVOS-style layout it shares with converted Ref-DAVIS17)."""
from __future__ import annotations

import os
from typing import Any

from tgl_mm.formats import (
    DataFormatError,
    ExpressionMeta,
    VideoMeta,
    load_json,
    load_meta_expressions,
)
from tgl_mm.registry import DATASETS

from .base_rvos_dataset import BaseRVOSDataset


@DATASETS.register_module()
class RefYouTubeVOSDataset(BaseRVOSDataset):
    """Ref-YouTube-VOS: one sample per expression.

    Layout::

        data_root/meta_expressions/<split>/meta_expressions.json   (obj_id: a string scalar)
        data_root/<split>/JPEGImages/<video>/<frame>.jpg
        data_root/<split>/Annotations/<video>/<frame>.png   palette PNG, pixel value = obj_id

    ``split='valid'`` is the 202-video validation set: the videos of
    ``meta_expressions/valid`` minus those of ``meta_expressions/test`` (which must exist).
    Only ``train`` has referring masks; other splits carry no ``gt_masks`` and need
    ``test_mode=True`` (predictions are scored by the challenge server).

    Args:
        data_root: the Ref-YouTube-VOS root.
        split: ``'train'`` or ``'valid'`` (``'test'``: the test videos, no masks).
        pipeline, moment_file, **kwargs: see :class:`BaseRVOSDataset`.
    """

    METAINFO = dict(dataset_name='ref_ytvos')
    #: drop the test videos from ``valid`` (Ref-YouTube-VOS's meta_expressions/valid holds both)
    EXCLUDE_TEST_FROM_VALID = True

    def __init__(self, data_root: str, split: str, pipeline=(), moment_file: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_root=data_root, split=split, pipeline=pipeline,
                         moment_file=moment_file, **kwargs)

    def meta_file(self, split: str) -> str:
        return os.path.join(self.data_root, 'meta_expressions', split, 'meta_expressions.json')

    def load_videos(self) -> dict[str, VideoMeta]:
        meta_file = self.meta_file(self.split)
        videos = load_meta_expressions(meta_file, require_ids=False,
                                       on_invalid=self.skip_invalid_expression)
        if self.split == 'valid' and self.EXCLUDE_TEST_FROM_VALID:
            test_file = self.meta_file('test')
            test = load_json(test_file, what='test meta_expressions.json (needed to separate '
                             'the 202 valid videos from the test videos)')
            test_ids = set(test.get('videos', {})) if isinstance(test, dict) else set()
            videos = {k: v for k, v in videos.items() if k not in test_ids}
        self.ann_root = os.path.join(self.data_root, self.split, 'Annotations')
        self.has_masks = self.masks_available()
        if not self.has_masks and not self.test_mode:
            raise DataFormatError('Annotations folder not found: training needs masks',
                                  file=self.ann_root)
        if self.has_masks:
            for video in videos.values():
                for exp in video.expressions.values():
                    if not exp.obj_ids:
                        raise DataFormatError('missing (the split has masks)', file=meta_file,
                                              video=video.video_id, expression=exp.exp_id,
                                              field='obj_id')
        return videos

    def masks_available(self) -> bool:
        return bool(self.split_has_masks(self.data_root, self.split))

    @classmethod
    def split_has_masks(cls, data_root: str, split: str) -> bool | None:
        """Ref-YouTube-VOS publishes referring masks for ``train`` only (YouTube-VOS's valid
        ``Annotations`` hold first-frame VOS masks, not the referred objects)."""
        if not os.path.isdir(os.path.join(data_root, split)):
            return None
        return split == 'train' and os.path.isdir(os.path.join(data_root, split, 'Annotations'))

    def frame_dir(self, video: VideoMeta) -> str:
        return os.path.join(self.data_root, self.split, 'JPEGImages', video.video_id)

    def mask_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        if not self.has_masks:
            return dict(mask_source='none')
        mask_dir = os.path.join(self.ann_root, video.video_id)
        if not os.path.isdir(mask_dir):
            raise DataFormatError('annotation folder not found', file=mask_dir,
                                  video=video.video_id, expression=exp.exp_id)
        return dict(mask_source='png', mask_dir=mask_dir)
