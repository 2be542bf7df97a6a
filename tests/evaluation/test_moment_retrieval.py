"""Moment-retrieval (QVHighlights protocol) and keyframe metrics on hand-computed examples."""
import numpy as np
import pytest
import torch

from tgl_mm.evaluation.functional import (
    MR_IOU_THRESHOLDS,
    average_precision_at,
    keyframe_top1_accuracy,
    keyframe_top1_hits,
    moment_retrieval_metrics,
    spans_to_windows,
    temporal_iou,
)
from tgl_mm.formats import mask_to_spans


def _pred(qid, windows):
    return {'qid': qid, 'pred_relevant_windows': windows}


def _gt(qid, windows):
    return {'qid': qid, 'relevant_windows': windows}


def test_thresholds():
    assert MR_IOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_temporal_iou_by_hand():
    iou = temporal_iou([[0, 10], [5, 15]], [[0, 10], [20, 30], [5, 5]])
    np.testing.assert_allclose(iou, [[1, 0, 0], [5 / 15, 0, 0]])
    assert temporal_iou([[3, 3]], [[3, 3]])[0, 0] == 0  # empty union


def test_perfect_prediction():
    out = moment_retrieval_metrics([_pred(1, [[0, 10, 0.9]])], [_gt(1, [[0, 10]])])
    assert out == {'R1@0.5': 100.0, 'R1@0.7': 100.0, 'mAP': 100.0, 'mAP@0.5': 100.0,
                   'mAP@0.75': 100.0, 'num_queries': 1}


def test_top1_is_the_first_listed_window_and_ap_by_hand():
    # first listed [5, 15]: IoU 1/3 -> R1 misses. Sorted by score the same order: FP (IoU 1/3) then
    # TP (IoU 0.9 for t <= 0.9): precision [0, .5], recall [0, 1] -> AP 0.5; t = 0.95: AP 0
    out = moment_retrieval_metrics([_pred('a', [[5, 15, 0.9], [0, 9, 0.5]])],
                                   [_gt('a', [[0, 10]])])
    assert out['R1@0.5'] == 0.0 and out['R1@0.7'] == 0.0
    assert out['mAP@0.5'] == 50.0 and out['mAP@0.75'] == 50.0
    assert out['mAP'] == 45.0  # (9 * 0.5 + 0) / 10


def test_mean_over_queries():
    preds = [_pred('a', [[0, 10, 0.9]]), _pred('b', [[5, 15, 0.9], [0, 9, 0.5]])]
    gts = [_gt('a', [[0, 10]]), _gt('b', [[0, 10]])]
    out = moment_retrieval_metrics(preds, gts, return_per_query=True)
    assert out['R1@0.5'] == 50.0 and out['R1@0.7'] == 50.0
    assert out['mAP'] == 72.5 and out['mAP@0.5'] == 75.0
    assert out['per_query']['a']['R1_iou'] == 1.0
    assert out['per_query']['b']['AP'][-1] == 0.0


def test_greedy_matching_locks_gt_windows():
    # p1 takes GT1; p2 (IoU .9 with GT1) finds it taken and GT2 below threshold -> FP; p3 takes GT2
    # precision [1, .5, 2/3], recall [.5, .5, 1] -> interpolated AP = .5 * 1 + .5 * 2/3 = 5/6
    pred = np.array([[0, 10, 0.9], [1, 10, 0.8], [20, 30, 0.7]], float)
    ap = average_precision_at(pred, np.array([[0, 10], [20, 30]], float))
    np.testing.assert_allclose(ap, 5 / 6)
    out = moment_retrieval_metrics([_pred(0, pred.tolist())], [_gt(0, [[0, 10], [20, 30]])])
    assert out['mAP'] == 83.33


def test_r1_uses_the_best_overlapping_gt_window():
    out = moment_retrieval_metrics([_pred(0, [[20, 29, 1.0]])], [_gt(0, [[0, 10], [20, 30]])])
    assert out['R1@0.7'] == 100.0  # IoU 0.9 with the second GT window


def test_only_the_first_ten_listed_predictions_count():
    bad = [[100 + i, 101 + i, 0.1] for i in range(10)]
    out = moment_retrieval_metrics([_pred(0, bad + [[0, 10, 0.99]])], [_gt(0, [[0, 10]])])
    assert out['mAP'] == 0.0  # the perfect window is 11th in the list, despite its top score


def test_equal_scores_keep_the_listed_order():
    ap = average_precision_at(np.array([[20, 30, 0.5], [0, 10, 0.5]]), np.array([[0, 10]]))
    np.testing.assert_allclose(ap, 0.5)  # FP first, then TP
    ap = average_precision_at(np.array([[0, 10, 0.5], [20, 30, 0.5]]), np.array([[0, 10]]))
    np.testing.assert_allclose(ap, 1.0)


def test_frame_span_helpers():
    assert spans_to_windows([[3, 5], [7, 7]]) == [[3.0, 6.0], [7.0, 8.0]]
    assert spans_to_windows([[3, 5]], fps=2) == [[1.5, 3.0]]
    assert mask_to_spans([0, 1, 1, 0, 1]) == [[1, 2], [4, 4]]
    assert mask_to_spans(torch.tensor([True, True])) == [[0, 1]]
    assert mask_to_spans(np.zeros(4, bool)) == []
    with pytest.raises(ValueError, match='ends before'):
        spans_to_windows([[5, 3]])
    # inclusive frame spans [0, 9] vs [5, 9]: windows [0, 10) and [5, 10) -> IoU 0.5
    w = spans_to_windows([[0, 9], [5, 9]])
    assert temporal_iou([w[0]], [w[1]])[0, 0] == 0.5


@pytest.mark.parametrize('preds, gts, match', [
    ([_pred(1, [[0, 1, 1]])], [_gt(2, [[0, 1]])], 'missing predictions for \\[2\\]'),
    ([_pred(1, [[0, 1, 1]]), _pred(1, [[0, 1, 1]])], [_gt(1, [[0, 1]])], 'appears twice'),
    ([_pred(1, [])], [_gt(1, [[0, 1]])], 'query 1: pred_relevant_windows'),
    ([_pred(1, [[0, 1]])], [_gt(1, [[0, 1]])], 'start, end, score'),
    ([_pred(1, [[0, 1, 1]])], [_gt(1, [])], 'query 1: relevant_windows'),
    ([_pred(1, [[3, 1, 1]])], [_gt(1, [[0, 1]])], 'ends before'),
    ([{'qid': 1}], [_gt(1, [[0, 1]])], 'need "qid"'),
])
def test_bad_input(preds, gts, match):
    with pytest.raises(ValueError, match=match):
        moment_retrieval_metrics(preds, gts)


def test_shared_queries_when_not_matching_number():
    out = moment_retrieval_metrics([_pred(1, [[0, 1, 1]]), _pred(3, [[0, 1, 1]])],
                                   [_gt(1, [[0, 1]]), _gt(2, [[0, 1]])], match_number=False)
    assert out['num_queries'] == 1 and out['R1@0.5'] == 100.0


def test_keyframe_top1():
    scores = {'a': [0.1, 0.9, 0.3], 'b': [0.5, 0.5, 0.1], 'c': torch.tensor([2.0, 0.0])}
    mplus = {'a': [False, True, False], 'b': [False, True, True], 'c': [True, False]}
    # 'b': the first of the tied maxima (frame 0) is outside the moment
    assert keyframe_top1_hits(scores, mplus) == {'a': True, 'b': False, 'c': True}
    assert keyframe_top1_accuracy(scores, mplus) == pytest.approx(200 / 3)
    assert keyframe_top1_accuracy([[0.0, 1.0]], [[0, 1]]) == 100.0
    with pytest.raises(ValueError, match="query 'a': 3 frame scores for 2 frames"):
        keyframe_top1_hits({'a': [1, 2, 3]}, {'a': [0, 1]})
    with pytest.raises(ValueError, match='no scores for'):
        keyframe_top1_hits({'a': [1]}, {'a': [1], 'b': [1]})
