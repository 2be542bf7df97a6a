"""The degraded moment retriever (stand-in for retrieval models of known quality): windows err
both ways, misses grow as quality drops, levels reach their target, files read back."""
from __future__ import annotations

import json
import random

import pytest
import torch

from tgl_mm.models.grounding import MomentRetrievalGrounding
from tgl_mm.models.grounding.degraded_retrieval import (
    QUALITY_LEVELS,
    RetrievalQuery,
    degradation_sweep,
    degrade_query,
    degraded_predictions,
    queries_from_moments,
    retrieval_quality,
)
from tgl_mm.models.grounding.span_ops import degrade_window, mask_to_scored_windows, window_iou
from tgl_mm.structures import VideoDataSample


def make_queries(num: int = 120, seed: int = 0) -> list[RetrievalQuery]:
    """Videos of 20-28 frames with one or two moments; every fifth fills the video."""
    rng = random.Random(seed)
    out = []
    for i in range(num):
        n = rng.randint(20, 28)
        if i % 5 == 0:
            truth = ((0, n),)
        elif i % 4 == 0:
            a = rng.randint(0, 6)
            b = rng.randint(a + 2, a + 6)
            c = rng.randint(b + 2, n - 3)
            truth = ((a, b), (c, rng.randint(c + 1, n)))
        else:
            length = rng.randint(2, n - 4)
            s = rng.randint(0, n - length)
            truth = ((s, s + length),)
        out.append(RetrievalQuery(f'v{i}/0', n, truth))
    return out


def test_shifts_cross_the_moment_edges_and_only_the_video_clips():
    assert degrade_window((20, 40), 100, 0.5, 'shift', side=0.9) == (27, 47)   # past the end
    assert degrade_window((20, 40), 100, 0.5, 'shift', side=0.1) == (13, 33)   # before start
    # the video's end cuts a shift past it; the window keeps no frame after the video
    assert degrade_window((90, 100), 100, 0.5, 'shift', side=0.9) == (93, 100)
    # a moment filling the video shifted by its whole length keeps one frame
    got = degrade_window((0, 4), 4, 0.01, 'shift', side=0.9)
    assert got == (3, 4)
    # a widen margin the video's start cuts goes after the moment instead
    assert degrade_window((0, 10), 30, 0.5, 'widen', side=1.0) == (0, 20)
    assert degrade_window((25, 30), 30, 0.5, 'widen', side=0.0) == (20, 30)
    assert degrade_window((0, 10), 10, 0.5, 'widen') == (0, 10)
    assert degrade_window((4, 14), 20, 0.5, 'shrink', side=0.0) == (4, 9)


def test_scored_windows_from_a_mask():
    mask = torch.tensor([0, 1, 1, 0, 1, 0, 1, 1], dtype=torch.bool)
    scores = torch.tensor([9.0, 1.0, 2.0, 9.0, 3.0, 9.0, -1.0, 0.0])
    assert mask_to_scored_windows(mask, scores) == [[4, 5, 3.0], [1, 3, 1.5], [6, 8, -0.5]]
    assert mask_to_scored_windows(torch.zeros(3, dtype=torch.bool), torch.zeros(3)) == []
    with pytest.raises(ValueError, match='mask and scores'):
        mask_to_scored_windows(mask, scores[:4])


def test_every_query_gets_five_descending_windows_in_the_video():
    for q in make_queries(40):
        windows = degrade_query(q, 0.5, 0.0, seed=3)
        assert len(windows) == 5
        assert all(0 <= s < e <= q.num_frames for s, e, _ in windows)
        scores = [w[2] for w in windows]
        assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_levels_reach_their_target_and_misses_grow():
    queries = make_queries()
    sweep = degradation_sweep(queries, QUALITY_LEVELS, seed=0)
    means = [level.stats['mean_iou'] for level in sweep]
    for level in sweep:
        assert level.stats['mean_iou'] == pytest.approx(level.quality, abs=0.02), level.stats
    assert min(means) < 0.2
    misses = [level.stats['top1_miss'] for level in sweep]
    assert misses == sorted(misses) and misses[-1] >= 25.0 and misses[-1] > misses[0]
    r1 = [level.stats['R1@0.5'] for level in sweep]
    assert r1 == sorted(r1, reverse=True) and r1[0] > 90
    mid = sweep[QUALITY_LEVELS.index(0.5)].stats
    assert mid['top1_overlap'] > 10 and mid['top1_inside'] > 10 and mid['top1_miss'] > 10
    assert sum(mid[f'top1_{k}'] for k in ('inside', 'overlap', 'miss')) == pytest.approx(100)
    assert mid['moment_fills_video'] == pytest.approx(20.0)


def test_hit_errors_go_both_ways():
    """At a middle level the top-1 windows that hit include ones wider and narrower than the
    moment, and ones reaching before and after it."""
    queries = [q for q in make_queries() if len(q.truth) == 1 and q.gaps()]
    preds = degraded_predictions(queries, 0.5, seed=0)
    wider = narrower = before = after = 0
    for q, rec in zip(queries, preds):
        (s, e), (ws, we, _) = q.truth[0], rec['pred_relevant_windows'][0]
        if window_iou((s, e), (ws, we)) == 0:
            continue
        wider += we - ws > e - s
        narrower += we - ws < e - s
        before += ws < s
        after += we > e
    assert min(wider, narrower, before, after) >= 3, (wider, narrower, before, after)


def test_misses_avoid_every_span_and_whole_video_moments_never_miss():
    queries = make_queries()
    for level in degradation_sweep(queries, (0.1,), seed=1):
        for q, rec in zip(queries, level.predictions):
            truth = q.truth_mask()
            for s, e, _ in rec['pred_relevant_windows']:
                covered = truth[s:e]
                if not q.gaps():
                    assert covered.all()            # a moment that fills the video
                elif not covered.any():
                    assert all(e <= a or s >= b for a, b in q.truth)
    two = [q for q in queries if len(q.truth) == 2]
    hit_both = 0
    for q in two:
        windows = degrade_query(q, 0.9, 3.0, seed=0)
        hit_both += all(any(window_iou((s, e), span) > 0 for s, e, _ in windows)
                        for span in q.truth)
    assert hit_both > len(two) // 2


def test_seeded_and_deterministic():
    queries = make_queries(30)
    a = degraded_predictions(queries, 0.3, seed=4)
    assert a == degraded_predictions(queries, 0.3, seed=4)
    assert a != degraded_predictions(queries, 0.3, seed=5)
    # the same draws at every level: a higher level's misses are misses at a lower one too
    def missed(quality):
        return {rec['qid'] for q, rec in zip(queries, degraded_predictions(queries, quality, 4))
                if not q.truth_mask()[slice(*rec['pred_relevant_windows'][0][:2])].any()}
    assert missed(0.7) and missed(0.7) < missed(0.1)


def test_quality_of_hand_made_predictions():
    q = [RetrievalQuery('a/0', 10, ((2, 6),)), RetrievalQuery('b/0', 10, ((0, 3), (7, 10)))]
    exact = [{'qid': 'a/0', 'pred_relevant_windows': [[2, 6, 0.9]]},
             {'qid': 'b/0', 'pred_relevant_windows': [[5, 6, 0.1], [7, 10, 0.8]]}]
    stats = retrieval_quality(exact, q)
    assert stats['mean_iou'] == 1.0 and stats['R1@0.7'] == 100.0
    assert stats['top1_inside'] == 100.0 and stats['num_queries'] == 2
    off = [{'qid': 'a/0', 'pred_relevant_windows': [[6, 9, 0.9]]},
           {'qid': 'b/0', 'pred_relevant_windows': [[2, 5, 0.9]]}]
    stats = retrieval_quality(off, q)
    assert (stats['top1_miss'], stats['top1_overlap']) == (50.0, 50.0)
    assert stats['mean_iou'] == pytest.approx((0 + 1 / 5) / 2)
    with pytest.raises(ValueError, match='missing predictions'):
        retrieval_quality(off[:1], q)


def _moment_file(path, videos):
    raw = {'format': 'tgl_mm.moments', 'version': 1, 'split': 'valid_u', 'videos': {
        vid: {'num_frames': n, 'expressions': {
            exp: {'objects': {str(o): spans for o, spans in enumerate(objs)}}
            for exp, objs in exps.items()}} for vid, (n, exps) in videos.items()}}
    path.write_text(json.dumps(raw))
    return path


def test_queries_merge_objects_and_name_bad_input(tmp_path):
    path = _moment_file(tmp_path / 'm.json', {
        'v1': (12, {'0': [[[2, 4]], [[4, 6], [9, 10]]], '1': [[[0, 11]]]})})
    got = queries_from_moments(path)
    assert [(x.qid, x.truth) for x in got] == [('v1/0', ((2, 7), (9, 11))), ('v1/1', ((0, 12),))]
    bad = _moment_file(tmp_path / 'bad.json', {'v2': (5, {'3': [[[2, 7]]]})})
    with pytest.raises(ValueError, match="bad.json: video 'v2', expression '3'"):
        queries_from_moments(bad)


def test_tool_writes_files_that_read_back(tmp_path):
    import importlib.util
    from pathlib import Path
    tool = Path(__file__).resolve().parents[2] / 'tools' / 'analysis' / 'degrade_moments.py'
    spec = importlib.util.spec_from_file_location('degrade_moments', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    videos = {f'v{i}': (20, {'0': [[[i, i + 5]]], '1': [[[0, 19]]], '2': [[[1, 2]], [[15, 18]]]})
              for i in range(6)}
    path = _moment_file(tmp_path / 'm.json', videos)
    assert module.main(['--moment-file', str(path), '--sweep', '0.8', '0.2', '--out-dir',
                        str(tmp_path / 'out')]) == 0
    stats = json.loads((tmp_path / 'out' / 'degradation_stats.json').read_text())
    assert [lv['target_iou'] for lv in stats['levels']] == [0.8, 0.2]
    again = module.level_stats(path, '0.2')                  # what the benchmark reports
    assert again == {k: v for k, v in stats['levels'][1].items()
                     if k not in ('target_iou', 'hit_logit', 'file')}
    single = tmp_path / 'one.jsonl'
    assert module.main(['--moment-file', str(path), '--iou', '0.2', '--out', str(single)]) == 0
    assert single.read_text() == (tmp_path / 'out' / 'mr_iou0.2.jsonl').read_text()
    grounding = MomentRetrievalGrounding(str(single), top_k=5)
    first = json.loads(single.read_text().splitlines()[0])
    sample = VideoDataSample(metainfo=dict(video_id='v0', exp_id='0',
                                           frame_names=[str(t) for t in range(20)]))
    expect = torch.zeros(20, dtype=torch.bool)
    for s, e, _ in first['pred_relevant_windows']:
        expect[s:e] = True
    assert torch.equal(grounding(sample).mplus, expect)
    assert module.main(['--moment-file', str(tmp_path / 'none.json'), '--iou', '0.5',
                        '--out', str(single)]) == 2
