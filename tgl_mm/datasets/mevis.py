"""MeViS and MeViS-M (the public MeViS layout plus a tgl_mm moment file)."""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from mmengine.logging import print_log

from tgl_mm.formats import (
    FAMILIES_FILE,
    DataFormatError,
    ExpressionMeta,
    VideoMeta,
    check_expression_annotations,
    load_families,
    load_mask_dict,
    load_meta_expressions,
)
from tgl_mm.registry import DATASETS

from .base_rvos_dataset import BaseRVOSDataset


@DATASETS.register_module()
class MeViSDataset(BaseRVOSDataset):
    """MeViS (and MeViS-M with ``moment_file``): one sample per referring expression.

    Layout (unchanged public MeViS)::

        data_root/<split>/JPEGImages/<video>/<frame>.jpg
        data_root/<split>/meta_expressions.json
        data_root/<split>/mask_dict.json        (absent for ``valid``)
        data_root/<moment_file>                 (MeViS-M moments; tgl_mm format)

    The target of an expression is the union of its anno_ids' masks. Every anno_id's RLEs are
    kept once in a shared :class:`~tgl_mm.datasets.mask_store.RLEStore`; samples decode only their
    sampled frames. A split without ``mask_dict.json`` (MeViS ``valid``) gives samples without
    ``gt_masks`` and can only be used with ``test_mode=True``.

    Args:
        data_root: the MeViS root (holding ``train/``, ``valid_u/``, ``valid/``).
        split: ``'train'``, ``'valid_u'`` or ``'valid'`` (any sub-directory in this layout).
        pipeline: transforms; see ``configs/_base_/datasets/mevis_m.py``.
        moment_file: MeViS-M moment file, relative to ``data_root`` unless absolute.
        families: keep only the expressions of these families (``{split}/
            expression_families.json``, e.g. ``('appearance', 'event')`` for single-frame
            referring pretraining on the synthetic set); None keeps all.
        **kwargs: see :class:`~tgl_mm.datasets.base_rvos_dataset.BaseRVOSDataset`
            (``missing_moments``, ``test_mode``, ``skip_invalid``, ``check_frames``, ...).
    """

    METAINFO = dict(dataset_name='mevis')

    def __init__(self, data_root: str, split: str, pipeline=(), moment_file: str | None = None,
                 families: Sequence[str] | None = None, **kwargs: Any) -> None:
        if isinstance(families, str):
            families = (families,)
        self.families = None if families is None else tuple(families)
        if self.families is not None and not self.families:
            raise ValueError('MeViSDataset: families is empty (None keeps every expression)')
        super().__init__(data_root=data_root, split=split, pipeline=pipeline,
                         moment_file=moment_file, **kwargs)
        families = os.path.join(self.split_dir, FAMILIES_FILE)
        # the evaluator's dataset_meta: RVOSMetric reports J&F per family when the file exists
        self._metainfo['families_file'] = families if os.path.isfile(families) else None

    @classmethod
    def split_has_masks(cls, data_root: str, split: str) -> bool | None:
        """``mask_dict.json`` in the split folder (MeViS ``valid`` has none)."""
        split_dir = os.path.join(data_root, split)
        if not os.path.isdir(split_dir):
            return None
        return os.path.isfile(os.path.join(split_dir, 'mask_dict.json'))

    @property
    def split_dir(self) -> str:
        return os.path.join(self.data_root, self.split)

    def load_videos(self) -> dict[str, VideoMeta]:
        split_dir = self.split_dir
        if not os.path.isdir(split_dir):
            raise DataFormatError('split directory not found', file=split_dir)
        mask_path = os.path.join(split_dir, 'mask_dict.json')
        self.has_masks = os.path.isfile(mask_path)
        if not self.has_masks:
            if not self.test_mode:
                raise DataFormatError('mask_dict.json not found: training needs masks (splits '
                                      'without masks, e.g. MeViS valid, need test_mode=True)',
                                      file=mask_path)
            print_log(f'[mevis/{self.split}] no mask_dict.json: samples carry no gt_masks',
                      logger='current', level=logging.INFO)
        videos = load_meta_expressions(os.path.join(split_dir, 'meta_expressions.json'),
                                       require_ids=self.has_masks,
                                       on_invalid=self.skip_invalid_expression)
        self.mask_file = mask_path
        self._mask_dict = load_mask_dict(mask_path) if self.has_masks else {}
        self._anno_rows: dict[str, int] = {}
        return videos

    def load_data_list(self) -> list[dict]:
        try:
            return self._keep_families(super().load_data_list())
        finally:  # the parsed JSON is no longer needed: the store holds the RLEs
            self._mask_dict, self._anno_rows = {}, {}

    def _keep_families(self, data_list: list[dict]) -> list[dict]:
        if self.families is None:
            return data_list
        path = os.path.join(self.split_dir, FAMILIES_FILE)
        if not os.path.isfile(path):
            raise DataFormatError(f'families={self.families} needs a families file', file=path)
        tags = load_families(path)
        known = set(tags.values())
        unknown = [f for f in self.families if f not in known]
        if unknown:
            raise ValueError(f'file {path}: no expression of families {unknown} (it has '
                             f'{sorted(known)})')
        kept = [d for d in data_list
                if tags.get((str(d['video_id']), str(d['exp_id']))) in self.families]
        print_log(f'[mevis/{self.split}] families {list(self.families)}: {len(kept)} of '
                  f'{len(data_list)} expressions', logger='current', level=logging.INFO)
        return kept

    def frame_dir(self, video: VideoMeta) -> str:
        return os.path.join(self.split_dir, 'JPEGImages', video.video_id)

    def mask_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        if not self.has_masks:
            return dict(mask_source='none')
        check_expression_annotations(video, self._mask_dict, source=self.mask_file,
                                     expression=exp.exp_id)
        rows = []
        for anno_id in exp.anno_ids:
            if anno_id not in self._anno_rows:
                self._anno_rows[anno_id] = self.mask_store.add_track(self._mask_dict[anno_id])
            rows.append(self._anno_rows[anno_id])
        return dict(mask_source='rle', mask_rows=rows, anno_ids=list(exp.anno_ids),
                    mask_file=self.mask_file)


def object_tracks(videos: dict[str, VideoMeta]) -> dict[str, VideoMeta]:
    """The same videos with one pseudo-expression per annotated object instead of the
    sentences: ``exp_id`` ``'track_<anno_id>'``, text ``'object <obj_id>'`` (objects in the
    order their ``anno_id`` first appears)."""
    out = {}
    for vid, video in videos.items():
        tracks: dict[str, ExpressionMeta] = {}
        for exp in video.expressions.values():
            for obj_id, anno_id in zip(exp.obj_ids, exp.anno_ids):
                key = f'track_{anno_id}'
                if key not in tracks:
                    tracks[key] = ExpressionMeta(exp_id=key, text=f'object {obj_id}',
                                                 obj_ids=(obj_id,), anno_ids=(anno_id,))
        out[vid] = VideoMeta(video_id=vid, frames=video.frames, expressions=tracks)
    return out


@DATASETS.register_module()
class MeViSObjectTracks(MeViSDataset):
    """Every annotated object of a MeViS-layout split as one sample (``exp_id``
    ``track_<anno_id>``), for class-agnostic tracking evaluation (stage 0,
    :class:`~tgl_mm.evaluation.metrics.TrackingMetric`); moments and sentences are unused."""

    METAINFO = dict(dataset_name='mevis_tracks')
    WARN_WITHOUT_MOMENTS = False

    def load_videos(self) -> dict[str, VideoMeta]:
        return object_tracks(super().load_videos())
