import json

import pytest
import torch

from tgl_mm.models.grounding import (
    HybridGrounding,
    KeyframeGrounding,
    MomentRetrievalGrounding,
    NoGrounding,
    OracleGrounding,
    TAMGrounding,
    largest_span,
    spans_to_mask,
    topk_mask,
    windows_to_mask,
)
from tgl_mm.models.grounding.base import GroundingResult
from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample


def make_sample(t=10, gt=None, has_moments=True, video='v1', exp='3'):
    s = VideoDataSample(metainfo=dict(video_id=video, exp_id=exp, has_moments=has_moments,
                                      frame_names=[f'{i:05d}' for i in range(t)]))
    if gt is not None:
        s.gt_mplus = gt
    return s


def write_jsonl(path, records):
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    return str(path)


def test_span_ops():
    assert spans_to_mask([[2, 4]], 8).nonzero().flatten().tolist() == [2, 3, 4]
    # half-open windows with fractional bounds (seconds x fps)
    assert windows_to_mask([[1.5, 3.0]], 6).nonzero().flatten().tolist() == [2]
    scores = torch.tensor([0.1, 0.9, 0.5, 0.9, 0.2])
    assert topk_mask(scores, 2).nonzero().flatten().tolist() == [1, 3]
    within = torch.tensor([True, False, True, False, True])
    assert topk_mask(scores, 1, within=within).nonzero().flatten().tolist() == [2]
    assert topk_mask(scores, 10).all()
    run = largest_span(torch.tensor([1, 0, 1, 1, 1, 0, 1, 1], dtype=torch.bool))
    assert run.nonzero().flatten().tolist() == [2, 3, 4]
    with pytest.raises(ValueError):
        topk_mask(scores, 0)


def test_none_and_oracle():
    gt = torch.tensor([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], dtype=torch.bool)
    sample = make_sample(gt=gt)
    assert GROUNDINGS.build(dict(type='none'))(sample).mplus.all()
    assert torch.equal(GROUNDINGS.build(dict(type='oracle'))(sample).mplus, gt)
    with pytest.raises(ValueError, match='v1/3'):
        OracleGrounding()(make_sample(gt=torch.ones(10, dtype=torch.bool), has_moments=False))
    with pytest.raises(ValueError, match='moment'):
        OracleGrounding()(make_sample())
    assert isinstance(GROUNDINGS.build(dict(type='NoGrounding')), NoGrounding)


def test_moment_retrieval_file(tmp_path):
    f = write_jsonl(tmp_path / 'mr.jsonl', [
        dict(qid='v1/3', pred_relevant_windows=[[2, 5, 0.9], [7, 9, 0.5]]),
        dict(qid='v2/0', pred_relevant_windows=[[0.5, 1.0, 0.9]]),
    ])
    g = MomentRetrievalGrounding(f)
    assert g(make_sample()).mplus.nonzero().flatten().tolist() == [2, 3, 4]
    g2 = MomentRetrievalGrounding(f, top_k=2)
    assert g2(make_sample()).mplus.nonzero().flatten().tolist() == [2, 3, 4, 7, 8]
    # seconds -> frames
    g3 = MomentRetrievalGrounding(f, fps=4)
    assert g3(make_sample(video='v2', exp='0')).mplus.nonzero().flatten().tolist() == [2, 3]
    with pytest.raises(KeyError, match='v9/1'):
        g(make_sample(video='v9', exp='1'))


def test_prediction_file_errors(tmp_path):
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"qid": "v1/3"}\n')
    with pytest.raises(ValueError, match='bad.jsonl:1'):
        MomentRetrievalGrounding(str(bad))(make_sample())
    dup = write_jsonl(tmp_path / 'dup.jsonl', [dict(qid='a/0', frame_scores=[1]),
                                               dict(qid='a/0', frame_scores=[1])])
    with pytest.raises(ValueError, match='duplicate'):
        KeyframeGrounding(dup)(make_sample(t=1, video='a', exp='0'))
    with pytest.raises(FileNotFoundError, match='missing.jsonl'):
        KeyframeGrounding(str(tmp_path / 'missing.jsonl'))(make_sample())


def test_keyframes_and_hybrid(tmp_path):
    scores = [0.0, 0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.0, 0.0, 0.95]
    kf = write_jsonl(tmp_path / 'kf.jsonl', [dict(qid='v1/3', frame_scores=scores)])
    mr = write_jsonl(tmp_path / 'mr.jsonl', [dict(qid='v1/3', pred_relevant_windows=[[2, 7, 1]])])
    res = KeyframeGrounding(kf, top_k=2)(make_sample())
    assert res.mplus.nonzero().flatten().tolist() == [1, 9]
    assert res.frame_scores is not None
    hyb = HybridGrounding(span=dict(type='moment_retrieval', pred_file=mr),
                          keyframes=dict(type='keyframes', pred_file=kf), top_k=2)
    assert hyb(make_sample()).mplus.nonzero().flatten().tolist() == [4, 6]
    # oracle span + keyframes (the paper's Oracle hybrid)
    gt = torch.zeros(10, dtype=torch.bool)
    gt[5:8] = True
    hyb_o = GROUNDINGS.build(dict(type='hybrid', span=dict(type='oracle'),
                                  keyframes=dict(type='keyframes', pred_file=kf), top_k=1))
    assert hyb_o(make_sample(gt=gt)).mplus.nonzero().flatten().tolist() == [6]
    # keyframes=None: the TAM's scores (passed in by the model) inside the span
    hyb_t = HybridGrounding(span=dict(type='moment_retrieval', pred_file=mr), keyframes=None,
                            top_k=2)
    assert hyb_t.needs_frame_scores and not hyb.needs_frame_scores
    with pytest.raises(ValueError, match='TAM'):
        hyb_t(make_sample())
    tam = torch.tensor(scores[::-1])
    assert hyb_t(make_sample(), tam).mplus.nonzero().flatten().tolist() == [3, 5]
    with pytest.raises(ValueError, match='3 frame scores'):
        short = write_jsonl(tmp_path / 's.jsonl', [dict(qid='v1/3', frame_scores=[1, 2, 3])])
        KeyframeGrounding(short)(make_sample())


def test_tam_grounding():
    logits = torch.tensor([-3.0, -1.0, 2.0, 3.0, -2.0, 1.0, 2.0, 2.5, -4.0, -4.0])
    sample = make_sample()
    with pytest.raises(ValueError, match='TAM'):
        TAMGrounding()(sample)
    thr = TAMGrounding()(sample, logits).mplus.nonzero().flatten().tolist()
    assert thr == [2, 3, 5, 6, 7]
    assert TAMGrounding(mode='span')(sample, logits).mplus.nonzero().flatten().tolist() == [5, 6, 7]
    assert TAMGrounding(mode='topk', top_k=1)(sample, logits).mplus.nonzero().flatten().tolist() \
        == [3]
    # nothing above threshold: the best frame alone
    low = torch.full((10,), -5.0)
    low[4] = -1.0
    assert TAMGrounding()(sample, low).mplus.nonzero().flatten().tolist() == [4]


class _Empty(NoGrounding):
    """A strategy that (wrongly) puts no frame in M+."""

    def __init__(self, scores=None):
        self.scores = scores

    def ground(self, sample, frame_scores):
        return GroundingResult(torch.zeros(len(sample.metainfo['frame_names']), dtype=torch.bool),
                               self.scores)


@pytest.fixture
def log_messages():
    import logging

    from mmengine.logging import MMLogger

    class Records(logging.Handler):
        messages: list = []

        def emit(self, record):
            self.messages.append((record.levelno, record.getMessage()))

    handler = Records(level=logging.DEBUG)
    handler.messages = []
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_empty_mplus_falls_back(log_messages):
    """No M+ frame: the top-scoring frame when scores exist, else the whole video; one warning
    naming the video and expression, every case counted."""
    import logging
    scores = torch.tensor([0.1, 0.7, 0.3, 0.2])
    with_scores = _Empty(scores)
    res = with_scores(make_sample(t=4, video='vA', exp='7'))
    assert res.mplus.tolist() == [False, True, False, False]
    without = _Empty()
    for exp in ('1', '2'):
        assert without(make_sample(t=4, video='vB', exp=exp)).mplus.all()
    assert (with_scores.num_fallbacks, without.num_fallbacks) == (1, 2)
    warnings = [m for level, m in log_messages if level == logging.WARNING]
    assert len(warnings) == 2
    assert "'vA'" in warnings[0] and "'7'" in warnings[0] and 'top-scoring' in warnings[0]
    assert "'vB'" in warnings[1] and "'1'" in warnings[1] and 'whole video' in warnings[1]
    # a strategy that does find frames is untouched
    assert NoGrounding()(make_sample(t=4)).mplus.all() and NoGrounding.num_fallbacks == 0
