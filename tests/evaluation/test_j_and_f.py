"""DAVIS J&F: hand-checked values, equality with the per-frame reference, edge cases, bad input.

Every test runs twice: with the compiled kernel and with the numpy implementation.
"""
import threading

import cv2
import numpy as np
import pytest
import torch

import tgl_mm.evaluation.functional.davis_jf as davis_jf
from tgl_mm.evaluation.functional import (
    boundary_radius,
    disk_rectangles,
    j_and_f,
    j_and_f_reference,
    seg2bmap,
)
from tgl_mm.evaluation.functional.davis_reference import boundary_f_frame, disk


@pytest.fixture(autouse=True, params=['c', 'numpy'])
def backend(request, monkeypatch):
    """Run the test with the compiled kernel, then with the numpy fall-back (as 'auto')."""
    if request.param == 'c' and davis_jf._davis_jf_kernel is None:
        pytest.skip('the compiled J&F kernel is not built')
    if request.param == 'numpy':
        monkeypatch.setattr(davis_jf, '_davis_jf_kernel', None)
        monkeypatch.setattr(davis_jf, '_warned_fallback', True)
    assert davis_jf.jf_backend() == request.param
    return request.param


def _frames(*masks):
    return np.stack([np.asarray(m, bool) for m in masks])


def assert_same_as_reference(pred, gt, bound_th=0.008):
    j, f = j_and_f(pred, gt, bound_th)
    j_ref, f_ref = j_and_f_reference(pred, gt, bound_th)
    # bit-for-bit, which is stronger than the required 1e-9
    np.testing.assert_array_equal(j, j_ref)
    np.testing.assert_array_equal(f, f_ref)
    return j, f


# ---- hand-checked building blocks ---------------------------------------------------------------

def test_seg2bmap_of_a_square_by_hand():
    seg = np.zeros((5, 6), bool)
    seg[1:3, 2:4] = True
    expected = np.zeros((5, 6), bool)
    # a pixel is on the boundary when its 2x2 block (itself, right, below, below-right) mixes
    expected[0:3, 1:4] = True
    expected[1, 2] = False  # block rows 1-2, cols 2-3 is all foreground
    np.testing.assert_array_equal(seg2bmap(seg), expected)


def test_seg2bmap_last_row_and_column_rules():
    seg = np.zeros((3, 3), bool)
    seg[2, 1] = True  # in the last row: compares with the right neighbour only
    b = seg2bmap(seg)
    assert b[2, 0] and b[2, 1] and not b[2, 2]
    assert b[1, 0] and b[1, 1]
    full = np.ones((4, 4), bool)
    assert not seg2bmap(full).any()  # a mask filling the frame has no boundary


def test_radius_and_disk():
    assert boundary_radius((480, 854)) == 8
    assert boundary_radius((1, 1)) == 1
    assert boundary_radius((480, 854), 3) == 3
    assert boundary_radius((480, 854), 0) == 0
    assert int(disk(8).sum()) == 197  # lattice points with x^2 + y^2 <= 64
    with pytest.raises(ValueError, match='whole number'):
        boundary_radius((10, 10), 2.5)
    with pytest.raises(ValueError, match='non-negative'):
        boundary_radius((10, 10), -0.1)


@pytest.mark.parametrize('radius', [0, 1, 2, 3, 5, 8, 13])
def test_disk_rectangles_cover_exactly_the_disk(radius):
    canvas = np.zeros((2 * radius + 1, 2 * radius + 1), np.uint8)
    for w, h in disk_rectangles(radius):
        canvas[radius - h:radius + h + 1, radius - w:radius + w + 1] = 1
    np.testing.assert_array_equal(canvas, disk(radius))
    if radius == 8:
        assert disk_rectangles(8) == [(8, 0), (7, 3), (6, 5), (5, 6), (3, 7), (0, 8)]


def test_hand_computed_j_and_f_two_dots():
    pred = np.zeros((10, 10), bool)
    gt = np.zeros((10, 10), bool)
    pred[2, 2] = True  # boundary anchors (1,1) (1,2) (2,1) (2,2)
    gt[2, 5] = True  # boundary anchors (1,4) (1,5) (2,4) (2,5)
    # r = 1: no boundary pixel within distance 1 of the other -> P = R = 0 -> F = 0
    j, f = assert_same_as_reference(_frames(pred), _frames(gt), 1)
    assert j[0] == 0.0 and f[0] == 0.0
    # r = 2: (1,2)-(1,4) and (2,2)-(2,4) match, the outer columns do not: P = R = 1/2 -> F = 1/2
    _, f = assert_same_as_reference(_frames(pred), _frames(gt), 2)
    assert f[0] == 0.5


def test_hand_computed_j():
    pred = np.zeros((4, 4), bool)
    gt = np.zeros((4, 4), bool)
    pred[0, 0:3] = True
    gt[0, 1:4] = True
    j, f = assert_same_as_reference(_frames(pred), _frames(gt))
    assert j[0] == pytest.approx(2 / 4, abs=0)  # 2 common pixels, 4 in the union


def test_empty_and_identical_conventions():
    empty = np.zeros((6, 7), bool)
    blob = np.zeros((6, 7), bool)
    blob[2:4, 2:5] = True
    full = np.ones((6, 7), bool)
    pred = _frames(empty, empty, blob, blob, full, full, empty)
    gt = _frames(empty, blob, empty, blob, empty, full, full)
    j, f = assert_same_as_reference(pred, gt)
    np.testing.assert_array_equal(j, [1, 0, 0, 1, 0, 1, 0])
    # one boundary empty -> F = 0; a full mask has no boundary, so full vs empty is F = 1
    np.testing.assert_array_equal(f, [1, 0, 0, 1, 1, 1, 1])


def test_far_apart_boundaries_give_zero_f():
    pred = np.zeros((100, 120), bool)
    gt = np.zeros((100, 120), bool)
    pred[10:20, 10:20] = True
    gt[60:70, 80:90] = True
    j, f = assert_same_as_reference(_frames(pred), _frames(gt))
    assert j[0] == 0 and f[0] == 0


# ---- equality with the reference on many shapes -------------------------------------------------

def _random_masks(rng, t, h, w):
    kind = rng.integers(4)
    if kind == 0:  # salt and pepper
        return rng.random((t, h, w)) < rng.random()
    if kind == 1:  # smooth blobs
        noise = rng.random((t, h, w)).astype(np.float32)
        k = 2 * int(rng.integers(1, 4)) + 1
        return np.stack([cv2.GaussianBlur(n, (k, k), 0) for n in noise]) > rng.uniform(0.4, 0.6)
    if kind == 2:  # thin lines, one pixel wide, straight and diagonal
        out = np.zeros((t, h, w), bool)
        for i in range(t):
            img = np.zeros((h, w), np.uint8)
            for _ in range(rng.integers(1, 4)):
                p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.line(img, p1, p2, 1, 1)
            out[i] = img > 0
        return out
    out = np.zeros((t, h, w), bool)  # rectangles touching the image border
    for i in range(t):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        out[i, y0:, x0:] = True
    return out


@pytest.mark.parametrize('seed', range(6))
def test_equal_to_reference_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 45, 2))
        t = int(rng.integers(1, 4))
        bound_th = [0.008, 0.05, 0.2, 1, 2, 5, 0, 40, 100][int(rng.integers(9))]
        assert_same_as_reference(_random_masks(rng, t, h, w), _random_masks(rng, t, h, w),
                                 bound_th)


@pytest.mark.parametrize('shape', [(1, 1), (1, 9), (9, 1), (2, 2), (3, 31), (33, 17), (97, 61)])
def test_equal_to_reference_on_odd_sizes(shape):
    rng = np.random.default_rng(sum(shape))
    pred = _random_masks(rng, 4, *shape)
    gt = _random_masks(rng, 4, *shape)
    assert_same_as_reference(pred, gt)
    assert_same_as_reference(pred, pred)
    assert_same_as_reference(pred, ~pred)


def test_equal_to_reference_at_mevis_resolution():
    h, w = 480, 854
    yy, xx = np.mgrid[:h, :w]
    gt = np.stack([((yy - 200) / 90.) ** 2 + ((xx - 300 - 7 * t) / 140.) ** 2 < 1
                   for t in range(3)])
    pred = np.stack([((yy - 204) / 86.) ** 2 + ((xx - 297 - 7 * t) / 150.) ** 2 < 1
                     for t in range(3)])
    pred[1, 400:470, 700:850] = True  # a false positive far away: the frame is split in two boxes
    pred[2] = False
    _, f = assert_same_as_reference(pred, gt)
    assert 0 < f[0] < 1 and f[2] == 0


def test_wide_frames_and_word_boundaries():
    # rows wider than 255 words (the kernel's byte counters flush) and widths around multiples
    # of 8 and 64 (word and bit-row edges)
    rng = np.random.default_rng(5)
    for w in (2100, 63, 64, 65, 127, 128, 129, 8, 9, 16, 17):
        h = 2 if w > 1000 else 23
        pred = rng.random((2, h, w)) < 0.5
        gt = _random_masks(rng, 2, h, w)
        assert_same_as_reference(pred, gt)
        assert_same_as_reference(pred, gt, 1)
    full = np.ones((1, 3, 2100), bool)
    assert_same_as_reference(full, full)
    assert_same_as_reference(full, ~full)


def test_radius_beyond_the_diagonal():
    # a tolerance larger than the frame matches every boundary pixel, as a diagonal-sized one
    # does; it is capped, so it costs no more (the reference cannot even build that disk)
    rng = np.random.default_rng(9)
    pred, gt = _random_masks(rng, 3, 12, 10), _random_masks(rng, 3, 12, 10)
    expected = assert_same_as_reference(pred, gt, 16)  # 16 > sqrt(11^2 + 9^2)
    for bound_th in (10**6, 0.99):
        j, f = j_and_f(pred, gt, bound_th)
        np.testing.assert_array_equal(j, expected[0])
        np.testing.assert_array_equal(f, expected[1])


def test_batching_and_box_splitting_do_not_change_values(monkeypatch):
    rng = np.random.default_rng(7)
    pred = _random_masks(rng, 6, 40, 64) & (rng.random((6, 40, 64)) < 0.2)
    gt = _random_masks(rng, 6, 40, 64) & (rng.random((6, 40, 64)) < 0.2)
    expected = j_and_f_reference(pred, gt)
    monkeypatch.setattr(davis_jf, '_CHUNK', 1)  # flush after every box
    monkeypatch.setattr(davis_jf, '_MIN_SPLIT_GAP', 0)  # split at every empty column
    j, f = j_and_f(pred, gt)
    np.testing.assert_array_equal(j, expected[0])
    np.testing.assert_array_equal(f, expected[1])


def test_reference_f_matches_cv2_dilate_definition_on_a_ring():
    # pred is gt shifted by 3 px: every boundary pixel has a partner within r = 8
    gt = np.zeros((50, 60), bool)
    gt[10:30, 15:40] = True
    pred = np.roll(gt, 3, axis=1)
    assert boundary_f_frame(pred, gt, 8) == 1.0
    assert_same_as_reference(_frames(pred), _frames(gt), 8)


# ---- input handling -----------------------------------------------------------------------------

def test_torch_and_numeric_inputs():
    rng = np.random.default_rng(3)
    pred = _random_masks(rng, 2, 20, 30)
    gt = _random_masks(rng, 2, 20, 30)
    expected = j_and_f(pred, gt)
    for p, g in [(torch.from_numpy(pred), torch.from_numpy(gt)),
                 (pred.astype(np.uint8) * 255, gt.astype(np.float32)),
                 (torch.from_numpy(pred).to(torch.uint8), gt[:, ::1, ::1])]:
        j, f = j_and_f(p, g)
        np.testing.assert_array_equal(j, expected[0])
        np.testing.assert_array_equal(f, expected[1])
    # non-contiguous views are fine too
    j, f = j_and_f(pred[:, ::-1], gt[:, ::-1])
    assert j.shape == (2,)


def test_bool_arrays_with_bytes_other_than_one():
    # a 0/255 uint8 mask viewed as bool: numpy keeps the 255 bytes, every non-zero byte is True
    rng = np.random.default_rng(4)
    pred = _random_masks(rng, 3, 30, 41)
    gt = _random_masks(rng, 3, 30, 41)
    j, f = j_and_f((pred.astype(np.uint8) * 255).view(bool), (gt.astype(np.uint8) * 7).view(bool))
    expected = j_and_f_reference(pred, gt)
    np.testing.assert_array_equal(j, expected[0])
    np.testing.assert_array_equal(f, expected[1])


def test_zero_frames():
    j, f = j_and_f(np.zeros((0, 5, 5), bool), np.zeros((0, 5, 5), bool))
    assert j.shape == f.shape == (0,) and j.dtype == np.float64


@pytest.mark.parametrize('pred, gt, match', [
    (np.zeros((2, 3, 4), bool), np.zeros((2, 3, 5), bool), 'differ in shape'),
    (np.zeros((3, 4), bool), np.zeros((3, 4), bool), r'\(T, H, W\)'),
    (np.zeros((1, 0, 4), bool), np.zeros((1, 0, 4), bool), 'empty frame size'),
])
def test_bad_shapes(pred, gt, match):
    with pytest.raises(ValueError, match=match):
        j_and_f(pred, gt)


def test_bad_dtype():
    with pytest.raises(TypeError, match='pred'):
        j_and_f(np.array([[['a']]]), np.zeros((1, 1, 1), bool))


def test_thread_safe():
    rng = np.random.default_rng(11)
    cases = [(_random_masks(rng, 3, 50, 70), _random_masks(rng, 3, 50, 70)) for _ in range(6)]
    expected = [j_and_f(p, g) for p, g in cases]
    results = [None] * len(cases)

    def work(i):
        for _ in range(5):
            results[i] = j_and_f(*cases[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, exp in zip(results, expected):
        np.testing.assert_array_equal(got[0], exp[0])
        np.testing.assert_array_equal(got[1], exp[1])

