"""Ref-DAVIS17 in the YTVOS-style converted layout."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from tgl_mm.formats import DataFormatError, ExpressionMeta, VideoMeta
from tgl_mm.registry import DATASETS

from .ref_ytvos import RefYouTubeVOSDataset


@DATASETS.register_module()
class RefDAVIS17Dataset(RefYouTubeVOSDataset):
    """Ref-DAVIS17 converted to the Ref-YouTube-VOS layout (``train`` 60 / ``valid`` 30 videos).

    Layout as :class:`RefYouTubeVOSDataset` (both splits have palette ``Annotations``). Each
    object has four expressions: annotator 1 first-frame / full-video, annotator 2 first-frame /
    full-video, stored object by object, so expression ``exp_id`` belongs to set
    ``int(exp_id) % 4`` (see :data:`EXPRESSION_SETS`). Samples carry ``expression_set`` (0..3)
    for the per-set evaluation (the reported score is the mean over the four sets).

    Args:
        expression_sets: keep only these sets (indices 0..3); default all four.
        data_root, split, pipeline, moment_file, **kwargs: see :class:`RefYouTubeVOSDataset`.
    """

    METAINFO = dict(dataset_name='ref_davis17')
    EXCLUDE_TEST_FROM_VALID = False

    def __init__(self, data_root: str, split: str, pipeline=(), moment_file: str | None = None,
                 expression_sets: Sequence[int] = (0, 1, 2, 3), **kwargs: Any) -> None:
        bad = [s for s in expression_sets if s not in range(4)]
        if bad or not expression_sets:
            raise ValueError(f'expression_sets must be a non-empty subset of 0..3, got '
                             f'{list(expression_sets)}')
        self.expression_sets = tuple(expression_sets)
        super().__init__(data_root=data_root, split=split, pipeline=pipeline,
                         moment_file=moment_file, **kwargs)

    @classmethod
    def split_has_masks(cls, data_root: str, split: str) -> bool | None:
        """Both Ref-DAVIS17 splits have palette ``Annotations``."""
        if not os.path.isdir(os.path.join(data_root, split)):
            return None
        return os.path.isdir(os.path.join(data_root, split, 'Annotations'))

    @staticmethod
    def expression_set(video: VideoMeta, exp: ExpressionMeta) -> int:
        try:
            return int(exp.exp_id) % 4
        except ValueError as e:
            raise DataFormatError('Ref-DAVIS17 expression ids must be integers (4 per object)',
                                  video=video.video_id, expression=exp.exp_id) from e

    def load_videos(self) -> dict[str, VideoMeta]:
        videos = super().load_videos()
        out = {}
        for vid, video in videos.items():
            exps = {k: e for k, e in video.expressions.items()
                    if self.expression_set(video, e) in self.expression_sets}
            if exps:
                out[vid] = VideoMeta(vid, video.frames, exps)
        return out

    def extra_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        return dict(expression_set=self.expression_set(video, exp))
