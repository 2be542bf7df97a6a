"""Load the sampled frames and the referred objects' masks."""
from __future__ import annotations

import os

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from tgl_mm.formats import DataFormatError, image_damage, read_rgb  # noqa: F401  (image_damage: re-exported)
from tgl_mm.registry import TRANSFORMS


def _ctx(results: dict, **kw) -> dict:
    return dict(video=results.get('video_id'), expression=results.get('exp_id'), **kw)


def _unique_inds(frame_inds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frame indices and, per clip position, its position among them."""
    uniq, inverse = np.unique(np.asarray(frame_inds, dtype=np.int64), return_inverse=True)
    return uniq, inverse


@TRANSFORMS.register_module()
class LoadVideoFrames(BaseTransform):
    """Read the frames ``frame_inds`` of ``frame_dir`` (each distinct frame once).

    Required keys: ``frame_dir``, ``frame_names``, ``frame_ext``, ``frame_inds``.
    Added keys: ``frames`` uint8 (T, H, W, 3) RGB, ``ori_shape`` and ``img_shape`` (H, W).
    Frames of one video must share a size (else a ``DataFormatError`` names the frame).
    """

    def transform(self, results: dict) -> dict:
        uniq, inverse = _unique_inds(results['frame_inds'])
        names = results['frame_names']
        imgs = []
        for t in uniq:
            path = os.path.join(results['frame_dir'], names[t] + results.get('frame_ext', '.jpg'))
            img = read_rgb(path, _ctx(results, frame=names[t]))
            if imgs and img.shape != imgs[0].shape:
                raise DataFormatError(f'frame size {img.shape[:2]} differs from the video\'s '
                                      f'{imgs[0].shape[:2]}', file=path,
                                      **_ctx(results, frame=names[t]))
            imgs.append(img)
        frames = np.stack(imgs)[inverse]
        results['frames'] = frames
        results['ori_shape'] = frames.shape[1:3]
        results['img_shape'] = frames.shape[1:3]
        return results


def _rle_object_masks(results: dict, uniq: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    store = results['mask_store']
    names = results['frame_names']
    anno_ids = results.get('anno_ids') or [None] * len(results['mask_rows'])
    out = np.zeros((len(results['mask_rows']), len(uniq), *size), dtype=bool)
    for i, row0 in enumerate(results['mask_rows']):
        for k, t in enumerate(uniq):
            out[i, k] = store.decode(int(row0) + int(t), size, context=_ctx(
                results, anno_id=anno_ids[i], frame=names[t],
                file=results.get('mask_file')))
    return out


def read_palette_png(path: str, ctx: dict) -> np.ndarray:
    """Index map ``(H, W)`` of a palette (or grayscale) PNG where pixel value = object id."""
    if not os.path.isfile(path):
        raise DataFormatError('annotation file not found', file=path, **ctx)
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise DataFormatError(f'annotation must be a palette PNG (pixel value = obj_id), '
                                      f'got mode {img.mode}', file=path, **ctx)
            return np.asarray(img)
    except DataFormatError:
        raise
    except Exception as e:
        raise DataFormatError(f'annotation file is unreadable: {e}', file=path, **ctx) from e


def _png_object_masks(results: dict, uniq: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    names, obj_ids = results['frame_names'], results['obj_ids']
    out = np.zeros((len(obj_ids), len(uniq), *size), dtype=bool)
    for k, t in enumerate(uniq):
        path = os.path.join(results['mask_dir'], names[t] + '.png')
        ctx = _ctx(results, frame=names[t])
        idx = read_palette_png(path, ctx)
        if idx.shape != tuple(size):
            raise DataFormatError(f'annotation size {list(idx.shape)} differs from the frame '
                                  f'size {list(size)}', file=path, **ctx)
        for i, obj in enumerate(obj_ids):
            out[i, k] = idx == obj
    return out


@TRANSFORMS.register_module()
class LoadExpressionMasks(BaseTransform):
    """Decode the referred objects' masks on the sampled frames, at the original size.

    Sources (``mask_source`` of the data info): ``'rle'`` (rows of the dataset's shared
    :class:`~tgl_mm.datasets.mask_store.RLEStore`; MeViS, RefCOCO), ``'png'`` (palette PNGs in
    ``mask_dir`` where pixel value = obj_id; Ref-YouTube-VOS, Ref-DAVIS17), ``'none'`` (the split
    has no masks, e.g. MeViS ``valid``: nothing is added).

    Required keys: ``mask_source``, ``frame_inds``, ``ori_shape`` (run after
    ``LoadVideoFrames``), and the source's fields.
    Added keys: with ``per_object=True`` (training, before ``ObjectSelectiveSupervision``)
    ``gt_obj_masks`` bool (N, T, H, W); with ``per_object=False`` (testing) ``gt_masks`` bool
    (T, H, W), the union of the objects.

    Args:
        per_object: keep one mask per object (needed by OSS) or only their union.
    """

    def __init__(self, per_object: bool = True) -> None:
        self.per_object = per_object

    def transform(self, results: dict) -> dict:
        source = results.get('mask_source', 'none')
        if source == 'none':
            return results
        size = tuple(int(x) for x in results['ori_shape'])
        uniq, inverse = _unique_inds(results['frame_inds'])
        if source == 'rle':
            obj = _rle_object_masks(results, uniq, size)
        elif source == 'png':
            obj = _png_object_masks(results, uniq, size)
        else:
            raise ValueError(f'unknown mask_source {source!r}')
        obj = obj[:, inverse]
        if self.per_object:
            results['gt_obj_masks'] = obj
        else:
            results['gt_masks'] = obj.any(axis=0) if len(obj) else \
                np.zeros((len(inverse), *size), dtype=bool)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(per_object={self.per_object})'
