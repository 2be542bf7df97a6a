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


def test_moment_retrieval_takes_the_highest_scored_windows(tmp_path):
    from tgl_mm.models.grounding import PredictionFileError
    f = write_jsonl(tmp_path / 'mr.jsonl', [
        dict(qid='v1/3', pred_relevant_windows=[[7, 9, 0.3], [2, 5, 0.9], [0, 1, 0.6]]),
        dict(qid='v1/4', pred_relevant_windows=[[7, 9], [2, 5]]),
        dict(qid='v1/5', pred_relevant_windows=[[7, 9, 0.5], [2, 5, 0.5]])])

    def frames(top_k, exp='3'):
        g = MomentRetrievalGrounding(f, top_k=top_k)
        return g(make_sample(exp=exp)).mplus.nonzero().flatten().tolist()

    assert frames(1) == [2, 3, 4]
    assert frames(2) == [0, 2, 3, 4]
    assert frames(3) == [0, 2, 3, 4, 7, 8]
    assert frames(1, exp='4') == [7, 8]           # no scores: as listed
    assert frames(1, exp='5') == [7, 8]           # equal scores: as listed
    mixed = write_jsonl(tmp_path / 'mixed.jsonl', [
        dict(qid='v1/3', pred_relevant_windows=[[7, 9, 0.3], [2, 5]])])
    with pytest.raises(PredictionFileError, match="mixed.jsonl:1: query 'v1/3': 1 of 2 windows"):
        MomentRetrievalGrounding(mixed)


def test_hybrid_span_honours_its_own_top_k(tmp_path):
    """The hybrid's span is its moment-retrieval config's top-k highest-scored windows; the
    hybrid's own top_k counts keyframes inside it."""
    scores = [0.0, 0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.0, 0.0, 0.95]
    kf = write_jsonl(tmp_path / 'kf.jsonl', [dict(qid='v1/3', frame_scores=scores)])
    mr = write_jsonl(tmp_path / 'mr.jsonl', [
        dict(qid='v1/3', pred_relevant_windows=[[8, 10, 0.2], [2, 5, 0.9], [6, 7, 0.5]])])

    def chosen(span_k, top_k):
        hyb = GROUNDINGS.build(dict(type='hybrid', top_k=top_k, keyframes=dict(
            type='keyframes', pred_file=kf), span=dict(type='moment_retrieval', pred_file=mr,
                                                          top_k=span_k)))
        return hyb(make_sample()).mplus.nonzero().flatten().tolist()

    assert chosen(1, 2) == [3, 4]          # inside [2, 5) only
    assert chosen(2, 2) == [4, 6]          # [2, 5) and [6, 7)
    assert chosen(3, 2) == [4, 9]          # all three windows
    assert chosen(1, 10) == [2, 3, 4]      # more keyframes than span frames: the whole span


@pytest.mark.parametrize('use_tam', [False, True])
def test_hybrid_frames_lie_inside_the_span(tmp_path, use_tam):
    """For random spans (one or several windows, or the oracle moments) and random frame scores
    (a VLM's file, or the TAM's), every frame the hybrid chooses lies inside the span, and it
    chooses min(top_k, span size) of them: the best-scored ones of the span."""
    gen = torch.Generator().manual_seed(0)
    rng = torch.Generator().manual_seed(1)
    for case in range(40):
        t = int(torch.randint(6, 30, (1,), generator=rng))
        scores = torch.randn(t, generator=gen)
        windows = []
        for _ in range(int(torch.randint(1, 4, (1,), generator=rng))):
            s = int(torch.randint(0, t - 1, (1,), generator=rng))
            e = int(torch.randint(s + 1, t + 1, (1,), generator=rng))
            windows.append([s, e, float(torch.rand(1, generator=rng))])
        span_k = int(torch.randint(1, len(windows) + 1, (1,), generator=rng))
        top_k = int(torch.randint(1, 8, (1,), generator=rng))
        oracle = case % 4 == 0
        gt = torch.rand(t, generator=rng) > 0.6
        gt[int(torch.randint(0, t, (1,), generator=rng))] = True
        sample = make_sample(t=t, gt=gt)
        mr = write_jsonl(tmp_path / f'mr{case}.jsonl', [dict(qid='v1/3',
                                                             pred_relevant_windows=windows)])
        kf = write_jsonl(tmp_path / f'kf{case}.jsonl', [dict(qid='v1/3',
                                                             frame_scores=scores.tolist())])
        span_cfg = dict(type='oracle') if oracle else dict(type='moment_retrieval',
                                                            pred_file=mr, top_k=span_k)
        hyb = GROUNDINGS.build(dict(type='hybrid', span=span_cfg, top_k=top_k,
                                    keyframes=None if use_tam else dict(type='keyframes',
                                                                        pred_file=kf)))
        mplus = hyb(sample, scores if use_tam else None).mplus
        span = GROUNDINGS.build(span_cfg)(sample).mplus
        if not oracle:
            ranked = sorted(windows, key=lambda w: -w[2])[:span_k]
            assert torch.equal(span, windows_to_mask(ranked, t))
        assert not bool((mplus & ~span).any()), (case, mplus, span)
        assert int(mplus.sum()) == min(top_k, int(span.sum()))
        if int(span.sum()) > top_k:     # the kept frames outscore the span's other frames
            assert scores[mplus].min() >= scores[span & ~mplus].max()
