"""The DAVIS 2017 J and F measures, written frame by frame exactly as the benchmark describes them.

This is the *straightforward* algorithm: one boundary map per mask (:func:`seg2bmap`), one
``cv2.dilate`` with a disk per boundary map per frame. tgl_mm scores with the fast, vectorised
:func:`tgl_mm.evaluation.functional.j_and_f`; this module is the yardstick the tests and
``benchmarks/bench_j_and_f.py`` compare it against (same values to the last bit, and the speed
ratio). It is written from the published definition, not copied from the DAVIS code.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ['disk', 'seg2bmap', 'boundary_radius', 'region_similarity_frame',
           'boundary_f_frame', 'f_from_counts', 'j_and_f_reference']


def disk(radius: int) -> np.ndarray:
    """Disk structuring element: uint8 ``(2r+1, 2r+1)``, 1 where ``x^2 + y^2 <= r^2``."""
    r = int(radius)
    ax = np.arange(-r, r + 1)
    x, y = np.meshgrid(ax, ax)
    return (x * x + y * y <= r * r).astype(np.uint8)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """1-pixel boundary map of a mask, as DAVIS defines it.

    A pixel is a boundary pixel when it differs from its right, lower or lower-right neighbour
    (neighbours outside the image count as background), except that the last row compares only
    with the right neighbour, the last column only with the lower one, and the bottom-right pixel
    is never a boundary pixel.

    Args:
        seg: ``(H, W)`` mask (non-zero = foreground).

    Returns:
        bool ``(H, W)``.
    """
    seg = np.asarray(seg).astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_radius(shape: tuple[int, int], bound_th: float = 0.008) -> int:
    """Dilation radius in pixels: ``bound_th`` itself when ``>= 1`` (must then be a whole number),
    else ``ceil(bound_th * sqrt(H^2 + W^2))`` (8 for 480x854 with the default 0.008)."""
    if bound_th < 0 or not math.isfinite(bound_th):
        raise ValueError(f'bound_th must be a finite non-negative number, got {bound_th}')
    if bound_th >= 1:
        if bound_th != int(bound_th):
            raise ValueError(f'bound_th >= 1 is a radius in pixels and must be a whole number, '
                             f'got {bound_th}')
        return int(bound_th)
    h, w = int(shape[0]), int(shape[1])
    return int(math.ceil(bound_th * math.sqrt(h * h + w * w)))


def region_similarity_frame(pred: np.ndarray, gt: np.ndarray) -> float:
    """J of one frame: ``|pred & gt| / |pred | gt|``, 1 when both masks are empty."""
    pred, gt = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    inter = np.count_nonzero(pred & gt)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else inter / union


def boundary_f_frame(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """F of one frame: F-measure of boundary precision and recall within the dilation radius.

    Precision = predicted boundary pixels within ``r`` of a GT boundary pixel / predicted boundary
    pixels; recall likewise for GT. No boundary in both: F = 1; in exactly one: F = 0;
    P + R = 0: F = 0.
    """
    pred, gt = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    kernel = disk(boundary_radius(pred.shape, bound_th))
    fg_boundary = seg2bmap(pred)
    gt_boundary = seg2bmap(gt)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), kernel).astype(bool)
    return f_from_counts(int(np.count_nonzero(fg_boundary)), int(np.count_nonzero(gt_boundary)),
                         int(np.count_nonzero(fg_boundary & gt_dil)),
                         int(np.count_nonzero(gt_boundary & fg_dil)))


def f_from_counts(n_fg: int, n_gt: int, m_fg: int, m_gt: int) -> float:
    """F of one frame from its boundary pixel counts: ``n_fg``/``n_gt`` boundary pixels of the
    prediction/GT, of which ``m_fg``/``m_gt`` are matched (DAVIS conventions for empty boundaries:
    none in both: F = 1; in exactly one: F = 0; P + R = 0: F = 0)."""
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = m_fg / float(n_fg)
        recall = m_gt / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def j_and_f_reference(pred: np.ndarray, gt: np.ndarray,
                      bound_th: float = 0.008) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F of ``(T, H, W)`` masks with a plain loop over frames (slow; reference)."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'expected two (T, H, W) arrays of one shape, got {pred.shape} and '
                         f'{gt.shape}')
    j = np.array([region_similarity_frame(p, g) for p, g in zip(pred, gt)], dtype=np.float64)
    f = np.array([boundary_f_frame(p, g, bound_th) for p, g in zip(pred, gt)], dtype=np.float64)
    return j, f
