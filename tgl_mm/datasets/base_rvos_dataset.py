"""Common machinery of the RVOS datasets: one sample per referring expression."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from tgl_mm.formats import (
    DataFormatError,
    ExpressionMeta,
    ExpressionMoments,
    MomentFile,
    VideoMeta,
    check_moment_ids,
    load_moments,
    validate_expression_moments,
)

from .mask_store import RLEStore
from .pipeline_settings import apply_pipeline_settings
from .sample_rng import RNG_KEY, SampleIndex
from .sentence_swap import apply_sentence_swap

MISSING_MOMENT_POLICIES = ('drop', 'error')


class BaseRVOSDataset(BaseDataset):
    """Base of the referring-video datasets: one sample per expression.

    Subclasses read their layout in :meth:`load_videos` (``{video_id: VideoMeta}``) and describe
    where an expression's masks are in :meth:`mask_fields`. This class adds moments, the frame
    folder check, invalid-sample skipping and the compact shared mask store.

    A data info (the input of the pipeline) holds: ``dataset_name``, ``split``, ``video_id``,
    ``exp_id``, ``text``, ``frame_dir``, ``frame_names`` (whole video), ``frame_ext``,
    ``num_video_frames``, ``obj_ids``, ``obj_moments`` (per object, inclusive spans),
    ``mplus_spans``, ``has_moments``, ``mask_source`` (``'rle'``, ``'png'`` or ``'none'``) with its
    fields (``mask_rows`` / ``mask_dir``), and, added at fetch time, ``mask_store``.

    Args:
        data_root: dataset root directory.
        split: split name (sub-directory or annotation selector, per dataset).
        pipeline: transforms (dicts or callables) ending with ``PackVideoInputs``.
        moment_file: moment file (tgl_mm format, see ``docs/datasets.md``); relative paths are
            relative to ``data_root``. Without one every frame is in M+ (a warning says so) and
            samples carry ``has_moments=False``.
        missing_moments: what to do with expressions the moment file does not list: ``'drop'``
            them (logged with their count; MeViS-M removed some MeViS expressions) or ``'error'``.
        test_mode: evaluation mode (no refetching, no skipping).
        skip_invalid: training only: drop invalid expressions at load time and skip samples whose
            files turn out invalid at fetch time (another sample is drawn), logging the counts.
            Off by default: invalid input raises a ``DataFormatError`` naming it.
        check_frames: compare each video's frame list with its folder at load time.
        swap_sentences: sentence-swap evaluation (:mod:`tgl_mm.datasets.sentence_swap`): each
            expression gets the sentence of another expression of its video with disjoint
            referred objects (the first such after it, wrapping around) and keeps its own masks
            and moments; expressions without such a partner are dropped. The counts are logged
            and in ``metainfo['sentence_swap']`` (``swapped``, ``dropped``), which
            ``RVOSMetric`` copies into its report. Needs annotated splits (``obj_id``).
        serialize_data, lazy_init, indices, max_refetch: see mmengine ``BaseDataset``.
        frame_sampling: arguments merged into the pipeline's frame sampler step (e.g.
            ``dict(num_frames=8, mplus_ratio=0.5)``; ``mplus_ratio=0.0`` is uniform random
            sampling), so a child config changes them with a dict merge instead of restating the
            pipeline; ``None`` (default) uses the pipeline as written. See
            :mod:`tgl_mm.datasets.pipeline_settings`.
        oss: ``enabled`` of the pipeline's ``ObjectSelectiveSupervision`` step (object-level
            selective supervision on / off); ``None`` (default) uses the pipeline as written.
    """

    METAINFO: dict = dict(dataset_name='rvos')
    #: warn when no moment file is given (False for image datasets: a still image is all M+)
    WARN_WITHOUT_MOMENTS = True
    FRAME_EXT = '.jpg'

    def __init__(self,
                 data_root: str,
                 split: str,
                 pipeline: Sequence[dict | Callable] = (),
                 moment_file: str | None = None,
                 missing_moments: str = 'drop',
                 test_mode: bool = False,
                 skip_invalid: bool = False,
                 check_frames: bool = True,
                 swap_sentences: bool = False,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 indices: int | Sequence[int] | None = None,
                 max_refetch: int = 1000,
                 frame_sampling: dict | None = None,
                 oss: bool | None = None) -> None:
        if missing_moments not in MISSING_MOMENT_POLICIES:
            raise ValueError(f'missing_moments must be one of {MISSING_MOMENT_POLICIES}, '
                             f'got {missing_moments!r}')
        if not data_root:
            raise ValueError('data_root is required')
        self.split = split
        self.moment_file = None if moment_file is None else \
            self._under_root(data_root, moment_file)
        self.missing_moments = missing_moments
        self.skip_invalid = skip_invalid
        self.check_frames = check_frames
        self.swap_sentences = swap_sentences
        self.mask_store = RLEStore()
        self.num_skipped_at_load = 0
        self.num_skipped_at_fetch = 0
        self.has_moments = moment_file is not None
        pipeline = apply_pipeline_settings(
            pipeline, frame_sampling=frame_sampling, oss=oss,
            where=f'{type(self).__name__}(split={split!r})')
        super().__init__(ann_file='', data_root=data_root, data_prefix={},
                         serialize_data=serialize_data, pipeline=pipeline,
                         test_mode=test_mode, lazy_init=lazy_init, indices=indices,
                         max_refetch=max_refetch)

    # ------------------------------------------------------------------ subclass hooks
    def load_videos(self) -> dict[str, VideoMeta]:
        """Read the split's videos and expressions."""
        raise NotImplementedError

    def frame_dir(self, video: VideoMeta) -> str:
        """Directory holding the video's frames."""
        raise NotImplementedError

    def mask_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        """Where the expression's masks are: ``mask_source`` and its fields. May add rows to
        ``self.mask_store``. Raise ``DataFormatError`` for bad annotations."""
        raise NotImplementedError

    def extra_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        """Extra per-sample fields (carried into the metainfo by ``PackVideoInputs``)."""
        return {}

    @classmethod
    def split_has_masks(cls, data_root: str, split: str) -> bool | None:
        """Whether ``split`` under ``data_root`` has ground-truth masks, read cheaply from the
        layout (no annotation parsing): ``None`` when it cannot tell (e.g. no such folder; the
        dataset then reports the problem when built). Default: ``True``."""
        return True

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _under_root(root: str, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(root, path)

    @property
    def dataset_name(self) -> str:
        return self._metainfo.get('dataset_name', 'rvos')

    def _handle_invalid(self, err: DataFormatError, what: str, count: int = 1) -> None:
        if not self.skip_invalid or self.test_mode:
            raise err
        self.num_skipped_at_load += count
        print_log(f'[{self.dataset_name}/{self.split}] skipping invalid {what}: {err}',
                  logger='current', level=logging.WARNING)

    def skip_invalid_expression(self, err: DataFormatError) -> None:
        """``on_invalid`` of the annotation readers: skip (and count) an invalid expression
        with ``skip_invalid``, else raise ``err``."""
        self._handle_invalid(err, 'expression')
        self._skipped_expressions.add((str(err.video), str(err.expression)))

    def check_frame_folder(self, video: VideoMeta, frame_dir: str) -> None:
        """The folder must hold exactly the listed frames (``<frame><FRAME_EXT>``)."""
        ctx = dict(file=frame_dir, video=video.video_id, field='frames')
        if not os.path.isdir(frame_dir):
            raise DataFormatError('frame folder not found', **ctx)
        ext = self.FRAME_EXT
        on_disk = {e.name[:-len(ext)] for e in os.scandir(frame_dir)
                   if e.name.endswith(ext) and e.is_file()}
        listed = set(video.frames)
        missing, extra = sorted(listed - on_disk), sorted(on_disk - listed)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f'{len(missing)} listed frames are missing (e.g. '
                             f'{[m + ext for m in missing[:3]]})')
            if extra:
                parts.append(f'{len(extra)} files are not in the frame list (e.g. '
                             f'{[m + ext for m in extra[:3]]})')
            raise DataFormatError('the frame list disagrees with the folder: '
                                  + '; '.join(parts), **ctx)

    def _moments_for(self, video: VideoMeta, exp: ExpressionMeta,
                     moment_file: MomentFile | None) -> ExpressionMoments | None:
        if moment_file is None:
            return None
        m = moment_file.moments.get(video.video_id, {}).get(exp.exp_id)
        if m is not None:
            validate_expression_moments(m, video, exp.exp_id, source=moment_file.source)
        return m

    # ------------------------------------------------------------------ BaseDataset API
    def load_data_list(self) -> list[dict]:
        self._skipped_expressions: set[tuple[str, str]] = set()
        videos = self.load_videos()
        moment_file = None
        if self.moment_file is not None:
            moment_file = load_moments(self.moment_file)
            check_moment_ids(moment_file, videos, skipped=self._skipped_expressions)
        elif self.WARN_WITHOUT_MOMENTS:
            print_log(f'[{self.dataset_name}/{self.split}] no moment file: every frame is in M+ '
                      '(moment-aware sampling = random sampling; OSS keeps every object)',
                      logger='current', level=logging.WARNING)
        data_list: list[dict] = []
        dropped_no_moment: list[str] = []
        for video in videos.values():
            frame_dir = self.frame_dir(video)
            if self.check_frames:
                try:
                    self.check_frame_folder(video, frame_dir)
                except DataFormatError as e:
                    self._handle_invalid(e, f'video ({len(video.expressions)} expressions)',
                                         len(video.expressions))
                    continue
            n = len(video.frames)
            for exp in video.expressions.values():
                try:
                    moments = self._moments_for(video, exp, moment_file)
                    if moment_file is not None and moments is None:
                        if self.missing_moments == 'error':
                            raise DataFormatError('no moment for this expression',
                                                  file=moment_file.source,
                                                  video=video.video_id, expression=exp.exp_id)
                        dropped_no_moment.append(f'{video.video_id}/{exp.exp_id}')
                        continue
                    masks = self.mask_fields(video, exp)
                except DataFormatError as e:
                    self._handle_invalid(e, 'expression')
                    continue
                if moments is None:
                    obj_moments = [[(0, n - 1)] for _ in exp.obj_ids]
                    mplus_spans = [(0, n - 1)]
                else:
                    obj_moments = [list(s) for s in moments.object_spans(exp.obj_ids)]
                    mplus_spans = list(moments.mplus_spans())
                info = dict(
                    dataset_name=self.dataset_name, split=self.split,
                    video_id=video.video_id, exp_id=exp.exp_id, text=exp.text,
                    frame_dir=frame_dir, frame_names=list(video.frames),
                    frame_ext=self.FRAME_EXT, num_video_frames=n,
                    obj_ids=list(exp.obj_ids), obj_moments=obj_moments,
                    mplus_spans=mplus_spans, has_moments=self.has_moments)
                info.update(masks)
                info.update(self.extra_fields(video, exp))
                data_list.append(info)
        if dropped_no_moment:
            print_log(f'[{self.dataset_name}/{self.split}] dropped {len(dropped_no_moment)} '
                      f'expressions without a moment in {self.moment_file} (e.g. '
                      f'{dropped_no_moment[:3]})', logger='current', level=logging.WARNING)
        if self.num_skipped_at_load:
            print_log(f'[{self.dataset_name}/{self.split}] skipped {self.num_skipped_at_load} '
                      'invalid expressions at load time', logger='current',
                      level=logging.WARNING)
        self.mask_store.finalize()
        if self.swap_sentences and data_list:
            data_list = self._swap(data_list)
        if not data_list:
            raise DataFormatError(f'no usable expression in split {self.split!r}',
                                  file=self.data_root)
        return data_list

    def _swap(self, data_list: list[dict]) -> list[dict]:
        """Apply the sentence swap, log and record its counts."""
        swapped, dropped = apply_sentence_swap(data_list, source=self.data_root)
        self._metainfo['sentence_swap'] = dict(swapped=len(swapped), dropped=len(dropped))
        print_log(f'[{self.dataset_name}/{self.split}] sentence swap: {len(swapped)} '
                  f'expressions get another expression\'s sentence; {len(dropped)} without a '
                  f'partner (disjoint objects, other sentence) are dropped'
                  + (f' (e.g. {dropped[:3]})' if dropped else ''), logger='current',
                  level=logging.WARNING)
        return swapped

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``; a :class:`~tgl_mm.datasets.sample_rng.SampleIndex`
        gives the sample its own generator (``results['rng']``), so its augmentation depends on
        its key only."""
        info = self.get_data_info(idx)
        info['mask_store'] = self.mask_store
        self._last_key = getattr(idx, 'key', None)
        if self._last_key is not None:
            info[RNG_KEY] = np.random.default_rng(self._last_key)
        if self.test_mode or not self.skip_invalid:
            return self.pipeline(info)
        try:
            return self.pipeline(info)
        except DataFormatError as e:
            self.num_skipped_at_fetch += 1
            print_log(f'[{self.dataset_name}/{self.split}] skipping invalid sample '
                      f'{info["video_id"]}/{info["exp_id"]} ({self.num_skipped_at_fetch} skipped '
                      f'in this process): {e}', logger='current', level=logging.WARNING)
            return None

    def _rand_another(self) -> int:
        """The sample fetched instead of an invalid one: drawn from the invalid sample's key
        when it had one (so skipping stays reproducible), else from numpy's global generator."""
        key = getattr(self, '_last_key', None)
        if key is None:
            return super()._rand_another()
        index = int(np.random.default_rng((*key, len(self))).integers(len(self)))
        return SampleIndex(index, (*key, index))

    def __repr__(self) -> str:
        n = len(self) if self._fully_initialized else 'not loaded'
        return (f'{type(self).__name__}(data_root={self.data_root!r}, split={self.split!r}, '
                f'expressions={n}, moments={self.moment_file!r}, test_mode={self.test_mode})')

