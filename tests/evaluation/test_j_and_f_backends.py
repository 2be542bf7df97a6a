"""The two J&F implementations: the compiled kernel and numpy agree with each other and the
reference; choosing a backend; the kernel's own argument checks; the kernel is built."""
import shutil
import sysconfig
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import tgl_mm.evaluation.functional.davis_jf as davis_jf
from tgl_mm.evaluation.functional import j_and_f, j_and_f_reference

needs_kernel = pytest.mark.skipif(davis_jf._davis_jf_kernel is None,
                                  reason='the compiled J&F kernel is not built')

@needs_kernel
def test_backends_agree_with_each_other_and_the_reference():
    rng = np.random.default_rng(21)
    pred = np.stack([cv2.GaussianBlur(rng.random((120, 214)).astype(np.float32), (15, 15), 0)
                     > 0.5 for _ in range(5)])
    gt = np.roll(pred, (2, -3), axis=(1, 2)) ^ (rng.random(pred.shape) < 0.002)
    expected = j_and_f_reference(pred, gt)
    for name in ('c', 'numpy'):
        j, f = j_and_f(pred, gt, backend=name)
        np.testing.assert_array_equal(j, expected[0])
        np.testing.assert_array_equal(f, expected[1])


def test_backend_choice_and_fallback_warning(monkeypatch):
    pred = np.zeros((1, 4, 4), bool)
    with pytest.raises(ValueError, match='backend must be one of'):
        j_and_f(pred, pred, backend='cuda')
    monkeypatch.setattr(davis_jf, '_davis_jf_kernel', None)
    with pytest.raises(RuntimeError, match='_davis_jf_kernel.c is not built'):
        j_and_f(pred, pred, backend='c')
    monkeypatch.setattr(davis_jf, '_warned_fallback', False)
    with pytest.warns(UserWarning, match='kernel is not built'):
        assert j_and_f(pred, pred)[0][0] == 1.0
    with warnings.catch_warnings():  # only once per process
        warnings.simplefilter('error')
        j_and_f(pred, pred)
        j_and_f(pred, pred, backend='numpy')  # asked for: no warning


@needs_kernel
def test_kernel_checks_its_buffers():
    kernel = davis_jf._davis_jf_kernel
    masks = np.zeros((2, 3, 4), bool)
    out = np.empty((2, 6), np.int64)
    assert kernel.counts(masks, masks, 2, 3, 4, 1, out) is True
    np.testing.assert_array_equal(out, 0)
    assert kernel.counts(np.full((2, 3, 4), 2, np.uint8), masks, 2, 3, 4, 1, out) is False
    with pytest.raises(ValueError, match='num \\* height \\* width bytes'):
        kernel.counts(masks, masks, 2, 3, 5, 1, out)
    with pytest.raises(ValueError, match='num \\* 6 int64'):
        kernel.counts(masks, masks, 2, 3, 4, 1, np.empty((1, 6), np.int64))
    with pytest.raises(ValueError, match='radius >= 0'):
        kernel.counts(masks, masks, 2, 3, 4, -1, out)
    with pytest.raises(TypeError):
        kernel.counts(masks, masks, 2, 3, 4, 1, out.tobytes())  # read-only output


def test_kernel_is_built_where_it_can_be():
    compiler = (sysconfig.get_config_var('CC') or 'cc').split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f'no C compiler ({compiler}): the numpy implementation is used')
    if not (Path(sysconfig.get_paths()['include']) / 'Python.h').is_file():
        pytest.skip('no Python headers (Python.h): the numpy implementation is used')
    assert davis_jf._davis_jf_kernel is not None, (
        'a C compiler and the Python headers are present but '
        'tgl_mm/evaluation/functional/_davis_jf_kernel.c is not built: run `pip install -e .` '
        '(make install) again')
