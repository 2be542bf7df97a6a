"""The segmentor's inference interface: what streaming inference and the app read, the
grounding passed per call (concurrent requests do not interfere), grounding names from the
registry."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from tgl_mm.apis.streaming import segment_expressions
from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

TEXT = 'the square moving right'
SPANS = np.arange(10) % 3 == 0      # a partial M+: oracle differs from none


@pytest.fixture(scope='module')
def model(tiny_infer_files):
    return tiny_infer_files['model']


def segment(model, video, grounding, mplus=None, check=None):
    """Masks (T, H, W) and M+ of ``TEXT`` on ``video``."""
    masks = {}
    run = segment_expressions(model, video, [TEXT], lambda k, t, m: masks.__setitem__(t, m),
                              grounding=grounding, mplus=mplus, check=check)
    return np.stack([masks[t] for t in range(run.num_frames)]), run.mplus[0]


def test_concurrent_requests_with_different_groundings(model, tiny_infer_files, monkeypatch):
    """Two requests on one model in two threads, one with oracle spans and one with none, give
    exactly the masks each gives alone. Both threads meet at a barrier when they tokenise their
    sentence, i.e. after each has chosen its grounding and before either has used it: a grounding
    kept on the shared module (the old ``using_grounding``) would be the other request's there."""
    video = tiny_infer_files['video']
    alone = {'oracle': segment(model, video, 'oracle', [SPANS]),
             'none': segment(model, video, 'none')}
    assert not np.array_equal(alone['oracle'][0], alone['none'][0])   # the test can tell them

    barrier = threading.Barrier(2, timeout=60)
    tokenize = model.text_backbone.tokenize

    def meet_then_tokenize(*args, **kwargs):
        barrier.wait()
        return tokenize(*args, **kwargs)

    monkeypatch.setattr(model.text_backbone, 'tokenize', meet_then_tokenize)
    results, errors = {}, []

    def request(name, mplus):
        try:
            results[name] = segment(model, video, name, mplus)
        except BaseException as e:   # reported below, with the thread's name
            errors.append((name, e))
            barrier.abort()

    threads = [threading.Thread(target=request, args=('oracle', [SPANS])),
               threading.Thread(target=request, args=('none', None))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for name in ('oracle', 'none'):
        masks, mplus = results[name]
        assert np.array_equal(mplus, alone[name][1]), name
        assert np.array_equal(masks, alone[name][0]), name
    assert model.grounding.__class__.__name__ == 'OracleGrounding'   # the config's, untouched


def test_the_model_is_a_streaming_segmentor(model):
    assert isinstance(model, StreamingSegmentor)
    assert model.input_size == 64 and not model.has_tam
    assert model.grounding_cfg == dict(type='oracle')
    frames = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    assert torch.equal(model.normalize(frames), model.data_preprocessor.normalize(frames))
    assert model.truncated_sentence('a short one') is None
    count, limit, kept = model.truncated_sentence(' '.join(['red'] * 100))
    assert count > limit == model.text_backbone.max_length and kept.startswith('red red')


def test_build_grounding_leaves_the_model_alone(model):
    own = model.grounding
    none = model.build_grounding('none')
    assert type(none).__name__ == 'NoGrounding' and model.grounding is own
    assert model.build_grounding(None) is own and model.build_grounding(none) is none
    with pytest.raises(ValueError, match='needs a TAM'):
        model.build_grounding('tam')


def test_a_grounding_the_model_cannot_run_is_refused_before_decoding(model, tiny_infer_files):
    decoded = []
    with pytest.raises(ValueError, match='TAMGrounding needs a TAM'):
        segment(model, tiny_infer_files['video'], 'tam', check=lambda: decoded.append(1))
    assert decoded == []


def test_grounding_names_come_from_the_registry():
    from tgl_mm.app.inputs import AUTO, GROUNDING_CHOICES
    from tgl_mm.models.grounding import registered_groundings
    from tgl_mm.registry import GROUNDINGS
    from tgl_mm.utils.cli import grounding_help

    names = registered_groundings()
    assert {'none', 'oracle', 'tam', 'moment_retrieval', 'keyframes', 'hybrid'} <= set(names)
    assert all(GROUNDINGS.get(name) is cls for name, cls in names.items())
    assert set(GROUNDING_CHOICES) - {AUTO} <= set(names)
    assert {'none', 'oracle', 'tam', 'moment_retrieval'} <= set(GROUNDING_CHOICES)
    text = str(grounding_help('intro:'))
    assert all(f'{name}: {cls.describe()}' in text for name, cls in names.items())


def test_a_downstream_grounding_is_offered(tiny_infer_files):
    """A grounding registered downstream appears in the help texts and, when the page can give
    what it reads, on the page's list."""
    from tgl_mm.app.inputs import page_groundings
    from tgl_mm.models.grounding import BaseGrounding, GroundingResult
    from tgl_mm.registry import GROUNDINGS
    from tgl_mm.utils.cli import grounding_help

    class FirstHalf(BaseGrounding):
        """M+ = the first half of the video."""

        def ground(self, sample, frame_scores):
            t = len(sample.metainfo['frame_names'])
            return GroundingResult(torch.arange(t) < (t + 1) // 2, frame_scores)

    GROUNDINGS.register_module(name='first_half', module=FirstHalf)
    try:
        assert 'first_half: M+ = the first half of the video.' in str(grounding_help(''))
        assert 'first_half' in page_groundings()
        masks, mplus = segment(tiny_infer_files['model'], tiny_infer_files['video'],
                               'first_half')
        assert mplus.tolist() == [True] * 5 + [False] * 5
    finally:
        GROUNDINGS.module_dict.pop('first_half')
