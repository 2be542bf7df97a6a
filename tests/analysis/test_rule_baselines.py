"""Rule baselines on synthetic MeViS-M: sentence parsing, event/motion detection, scoring, tool."""
from __future__ import annotations

import json
import runpy

import numpy as np
import pytest

from tgl_mm.analysis.rule_baselines import (
    RULES,
    apply_rule,
    load_videos,
    named_event,
    named_look,
    named_motion,
    score_rules,
)
from tgl_mm.datasets.synthetic import make_synthetic_mevis_m


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp('rules') / 'syn'
    make_synthetic_mevis_m(out, seed=5, num_videos=1, num_valid_u=9, num_valid=1,
                           progress=False, log=None)
    return out


def test_sentence_parsing():
    attrs = {'0': dict(shape='circle', color='red'), '1': dict(shape='circle', color='blue'),
             '2': dict(shape='square', color='red')}
    assert named_look('the red circle', attrs) == ['0']
    assert named_look('the circles', attrs) == ['0', '1']
    assert named_look('the circle that turns green', attrs) == ['0', '1']   # no such colour
    assert named_look('something', attrs) == ['0', '1', '2']
    assert named_event('the square that turns red') == 'color'
    assert named_event('the blue circle flashing') == 'flash'
    assert named_event('the diamonds getting bigger') == 'grow'
    assert named_event('the triangle with a ring') == 'ring'
    assert named_event('the circle jumping') is None
    assert named_motion('the circle moving to the left') == 'left'
    assert named_motion('the square leaving the frame on the right') == 'exit_right'
    assert named_motion('the circles sliding right before it stops') == 'right_stop'
    assert named_motion('the triangle hopping') == 'jump'
    assert named_motion('the circle that never moves') == 'still'
    assert named_motion('the red circle') is None


def test_rules_choose_the_referred_objects(data):
    """``best`` finds the referred objects of appearance and event sentences from attributes and
    frames (no referred ids); ``all_objects`` covers every object; ``no_memory`` keeps event
    objects only on some frames."""
    fams = json.loads((data / 'valid_u' / 'expression_families.json').read_text())['videos']
    hits = {'appearance': [], 'event': []}
    for video in load_videos(data, 'valid_u'):
        union = np.any(list(video.masks.values()), axis=0)
        for exp_id, exp in video.expressions.items():
            text, family = exp['exp'], fams[video.video_id][exp_id]
            gt = np.any([video.masks[str(o)] for o in exp['obj_id']], axis=0)
            assert np.array_equal(apply_rule('all_objects', video, text), union)
            best = apply_rule('best', video, text)
            if family in hits:
                hits[family].append(np.array_equal(best, gt))
            if family == 'event':
                partial = apply_rule('no_memory', video, text)
                assert not (partial & ~best).any() and partial.sum() < best.sum()
    assert all(hits['appearance']) and len(hits['appearance']) >= 5
    assert np.mean(hits['event']) >= 0.9 and len(hits['event']) >= 5
    with pytest.raises(ValueError, match='unknown rule'):
        apply_rule('magic', video, 'x')


def test_scores_per_family_and_tool(data, tmp_path):
    scores = score_rules(data, 'valid_u')
    assert set(scores) == set(RULES)
    for s in scores.values():
        assert set(s['per_family']) == {'appearance', 'event', 'motion'}
        assert sum(f['num_expressions'] for f in s['per_family'].values()) == \
            s['overall']['num_expressions']
    assert scores['best']['overall']['J&F'] > scores['all_objects']['overall']['J&F']
    assert scores['best']['per_family']['event']['J&F'] > \
        scores['no_memory']['per_family']['event']['J&F']
    tool = runpy.run_path('tools/analysis/rule_baselines.py', run_name='tool')
    out = tmp_path / 'r.json'
    assert tool['main'](['--data-root', str(data), '--split', 'valid', '--out', str(out)]) == 0
    assert json.loads(out.read_text())['split'] == 'valid'
    assert tool['main'](['--data-root', str(tmp_path / 'none'), '--out', str(out)]) == 2
