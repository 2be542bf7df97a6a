"""RefCOCO / RefCOCO+ / RefCOCOg: referring images as single-frame pseudo-videos (pretraining)."""
from __future__ import annotations

import io
import os
import pickle
from collections import defaultdict
from typing import Any

from tgl_mm.formats import (
    DataFormatError,
    ExpressionMeta,
    VideoMeta,
    load_json,
    normalize_expression,
    polygons_to_rle,
)
from tgl_mm.registry import DATASETS

from .base_rvos_dataset import BaseRVOSDataset

#: default ``split_by`` of each dataset in the refer toolkit layout
DEFAULT_SPLIT_BY = {'refcoco': 'unc', 'refcoco+': 'unc', 'refcocog': 'umd'}


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickle plain data only (lists, dicts, strings, numbers): any class or function
    reference is refused, so a crafted file cannot run code."""

    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding='utf-8')
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        raise DataFormatError(f'refusing to unpickle {module}.{name}: a refs file must hold only '
                              'plain data (lists, dicts, strings, numbers)', file=self.source)


def load_refs_pickle(path: str | os.PathLike) -> list[dict]:
    """Load a refer-toolkit ``refs(<split_by>).p`` safely (plain data only)."""
    path = str(path)
    if not os.path.isfile(path):
        raise DataFormatError('refs file not found', file=path)
    try:
        with open(path, 'rb') as f:
            refs = _PlainDataUnpickler(f, path).load()
    except DataFormatError:
        raise
    except Exception as e:
        raise DataFormatError(f'cannot read refs pickle: {e}', file=path) from e
    if not isinstance(refs, list):
        raise DataFormatError('expected a list of refs', file=path)
    return refs


def _require(entry: Any, keys: tuple[str, ...], **ctx: Any) -> None:
    if not isinstance(entry, dict):
        raise DataFormatError('expected an object', **ctx)
    for k in keys:
        if k not in entry:
            raise DataFormatError('missing', field=k, **ctx)


@DATASETS.register_module()
class RefCOCODataset(BaseRVOSDataset):
    """RefCOCO, RefCOCO+ and RefCOCOg: one sample per sentence; each image is a one-frame video,
    which the frame sampler turns into a pseudo-clip of T copies (every frame in M+).

    Two layouts:

    - refer toolkit (default): ``data_root/<dataset>/refs(<split_by>).p`` (loaded with a
      plain-data-only unpickler) + ``data_root/<dataset>/instances.json``; samples are the refs
      whose ``split`` equals ``split``. ``ann_dir`` names another folder for the two files.
    - converted COCO json (``ann_file`` given, e.g. ``refcoco/instances_refcoco_train.json``):
      one ``images`` entry per sentence with ``caption``, its ``annotations`` by ``image_id``.

    Images: ``data_root/<img_prefix>/<file_name>``.

    Args:
        data_root: root holding the annotation folders and the image folder.
        split: ``'train'``, ``'val'``, ``'testA'``, ``'testB'``, ``'test'`` (refs layout).
        dataset: ``'refcoco'``, ``'refcoco+'`` or ``'refcocog'`` (also the ``dataset_name``).
        split_by: refs partition (default ``unc`` for RefCOCO/+, ``umd`` for RefCOCOg).
        ann_file: converted COCO json (relative to ``data_root``); selects that layout.
        img_prefix: image folder under ``data_root`` (COCO ``train2014``).
        ann_dir: folder under ``data_root`` holding ``refs(<split_by>).p`` and
            ``instances.json`` (refs layout; default: ``dataset``), e.g. the synthetic split's
            ``image_refer/refcoco`` next to the synthetic videos.
        pipeline, **kwargs: see :class:`BaseRVOSDataset` (no ``moment_file``: still images are
            entirely relevant, ``has_moments=True``).
    """

    METAINFO = dict(dataset_name='refcoco')
    WARN_WITHOUT_MOMENTS = False

    def __init__(self, data_root: str, split: str, pipeline=(), dataset: str = 'refcoco',
                 split_by: str | None = None, ann_file: str | None = None,
                 img_prefix: str = 'train2014', ann_dir: str | None = None,
                 **kwargs: Any) -> None:
        if kwargs.get('moment_file') is not None:
            raise ValueError('RefCOCODataset takes no moment_file: a still image is all M+')
        if ann_file is None and dataset not in DEFAULT_SPLIT_BY:
            raise ValueError(f'dataset must be one of {sorted(DEFAULT_SPLIT_BY)} for the refs '
                             f'layout, got {dataset!r}')
        self.refer_dataset = dataset
        self.split_by = split_by or DEFAULT_SPLIT_BY.get(dataset, 'unc')
        self.coco_ann_file = None if ann_file is None else self._under_root(data_root, ann_file)
        self.img_dir = self._under_root(data_root, img_prefix)
        self.ann_dir = ann_dir if ann_dir is not None else dataset
        super().__init__(data_root=data_root, split=split, pipeline=pipeline, **kwargs)
        self._metainfo['dataset_name'] = dataset

    @property
    def dataset_name(self) -> str:
        return self.refer_dataset

    # ------------------------------------------------------------------ loading
    def load_videos(self) -> dict[str, VideoMeta]:
        self.has_moments = True
        self._anns: dict[str, tuple[Any, int, int]] = {}
        self._image_files: dict[str, str] = {}
        self._rows: dict[str, int] = {}
        if self.coco_ann_file is not None:
            return self._load_converted()
        return self._load_refs()

    def load_data_list(self) -> list[dict]:
        try:
            return super().load_data_list()
        finally:
            self._anns, self._rows = {}, {}

    def _add_expression(self, groups: dict, image: dict, exp_id: str, text: Any,
                        anns: list[tuple[str, int]], source: str) -> None:
        stem, ext = os.path.splitext(image['file_name'])
        ctx = dict(file=source, video=stem, expression=exp_id)
        if not isinstance(text, str) or not normalize_expression(text):
            self._handle_invalid(DataFormatError('empty expression text', field='sent', **ctx),
                                 'expression')
            return
        if not anns:
            self._handle_invalid(DataFormatError('the expression refers to no annotation',
                                                 field='ann_id', **ctx), 'expression')
            return
        if exp_id in groups[stem]:
            raise DataFormatError('duplicate expression id', field='sent_id', **ctx)
        self._image_files[stem] = ext
        groups[stem][exp_id] = ExpressionMeta(
            exp_id, normalize_expression(text), tuple(obj for _, obj in anns),
            tuple(key for key, _ in anns))

    def _load_refs(self) -> dict[str, VideoMeta]:
        root = os.path.join(self.data_root, self.ann_dir)
        refs_path = os.path.join(root, f'refs({self.split_by}).p')
        inst_path = os.path.join(root, 'instances.json')
        refs = load_refs_pickle(refs_path)
        inst = load_json(inst_path, what='COCO instances file')
        _require(inst, ('images', 'annotations'), file=inst_path)
        images = {img['id']: img for img in inst['images']}
        anns = {ann['id']: ann for ann in inst['annotations']}
        groups: dict[str, dict[str, ExpressionMeta]] = defaultdict(dict)
        for ref in refs:
            try:
                _require(ref, ('split', 'image_id', 'ann_id', 'sentences'), file=refs_path,
                         expression=str(ref.get('ref_id')) if isinstance(ref, dict) else None)
                if ref['split'] != self.split:
                    continue
                if ref['image_id'] not in images:
                    raise DataFormatError(f'image_id {ref["image_id"]} not in instances.json',
                                          file=refs_path, expression=str(ref.get('ref_id')),
                                          field='image_id')
                if ref['ann_id'] not in anns:
                    raise DataFormatError(f'ann_id {ref["ann_id"]} not in instances.json',
                                          file=refs_path, expression=str(ref.get('ref_id')),
                                          field='ann_id')
            except DataFormatError as e:
                self._handle_invalid(e, 'ref')
                continue
            image = images[ref['image_id']]
            ann = anns[ref['ann_id']]
            key = str(ann['id'])
            self._anns[key] = (ann['segmentation'], image['height'], image['width'])
            for sent in ref['sentences']:
                sent_id = str(sent.get('sent_id')) if isinstance(sent, dict) else None
                text = sent.get('sent', sent.get('raw')) if isinstance(sent, dict) else None
                self._add_expression(groups, image, str(sent_id), text, [(key, ann['id'])],
                                     refs_path)
        return self._to_videos(groups)

    def _load_converted(self) -> dict[str, VideoMeta]:
        path = self.coco_ann_file
        inst = load_json(path, what='converted RefCOCO json')
        _require(inst, ('images', 'annotations'), file=path)
        by_image: dict[Any, list[dict]] = defaultdict(list)
        for ann in inst['annotations']:
            _require(ann, ('image_id', 'segmentation', 'id'), file=path)
            by_image[ann['image_id']].append(ann)
        groups: dict[str, dict[str, ExpressionMeta]] = defaultdict(dict)
        for image in inst['images']:
            _require(image, ('id', 'file_name', 'height', 'width'), file=path)
            refs = []
            for ann in by_image.get(image['id'], []):
                key = str(ann['id'])
                self._anns[key] = (ann['segmentation'], image['height'], image['width'])
                refs.append((key, ann.get('original_id', ann['id'])))
            text = image.get('caption', image.get('sentence'))
            self._add_expression(groups, image, str(image['id']), text, refs, path)
        return self._to_videos(groups)

    def _to_videos(self, groups: dict[str, dict[str, ExpressionMeta]]) -> dict[str, VideoMeta]:
        return {stem: VideoMeta(stem, (stem,), exps) for stem, exps in groups.items()}

    # ------------------------------------------------------------------ hooks
    def frame_dir(self, video: VideoMeta) -> str:
        return self.img_dir

    def check_frame_folder(self, video: VideoMeta, frame_dir: str) -> None:
        path = os.path.join(frame_dir, video.video_id + self._image_files[video.video_id])
        if not os.path.isfile(path):
            raise DataFormatError('image file not found', file=path, video=video.video_id,
                                  field='file_name')

    def mask_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        rows = []
        for key in exp.anno_ids:
            if key not in self._rows:
                seg, h, w = self._anns[key]
                try:
                    rle = polygons_to_rle(seg, int(h), int(w))
                except Exception as e:
                    raise DataFormatError(f'invalid segmentation: {e}', video=video.video_id,
                                          expression=exp.exp_id, anno_id=key,
                                          field='segmentation') from e
                self._rows[key] = self.mask_store.add(rle)
            rows.append(self._rows[key])
        return dict(mask_source='rle', mask_rows=rows, anno_ids=list(exp.anno_ids))

    def extra_fields(self, video: VideoMeta, exp: ExpressionMeta) -> dict[str, Any]:
        return dict(frame_ext=self._image_files[video.video_id], image_id=video.video_id)
