"""The synthetic MeViS-M generator: layout, determinism, validity, families, temporal grounding."""
from __future__ import annotations

import json
import runpy

import numpy as np
import pytest
import torch

from tgl_mm.datasets import MeViSDataset
from tgl_mm.datasets.synthetic import make_scene, make_synthetic_mevis_m, random_video, render
from tgl_mm.datasets.synthetic.scene import (
    EVENT_LENGTH,
    EVENTS,
    EXITS,
    FAMILIES,
    GROW_FACTOR,
    MOVES,
    shape_mask,
)
from tgl_mm.formats import check_moment_file, spans_to_mask

SMALL = dict(num_videos=5, num_valid_u=2, num_valid=2, size=64, min_frames=10, max_frames=12,
             progress=False, log=None)


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp('syn') / 'synthetic_mevis_m'
    info = make_synthetic_mevis_m(out, seed=3, **SMALL)
    return out, info


def test_layout_and_statistics(synth):
    out, info = synth
    for split in ('train', 'valid_u'):
        assert (out / split / 'mask_dict.json').is_file()
        assert (out / 'moments' / f'{split}.json').is_file()
    assert not (out / 'valid' / 'mask_dict.json').exists()
    for f in ('meta_expressions.json', 'mask_dict.json', 'moments.json'):
        assert (out / 'valid_gt' / f).is_file()
    valid = json.loads((out / 'valid' / 'meta_expressions.json').read_text())['videos']
    gt = json.loads((out / 'valid_gt' / 'meta_expressions.json').read_text())['videos']
    assert valid.keys() == gt.keys()
    for vid, v in valid.items():
        assert all(set(e) == {'exp'} for e in v['expressions'].values())   # text only
        assert all('anno_id' in e for e in gt[vid]['expressions'].values())
    st = info['statistics']['train']
    assert st['videos'] == 5 and st['expressions'] > 5
    assert json.loads((out / 'info.json').read_text())['settings']['width'] == 64
    frame = next((out / 'train' / 'JPEGImages').glob('*/00000.jpg'))
    import cv2
    assert cv2.imread(str(frame)).shape == (48, 64, 3)     # non-square: 4:3


def test_passes_validator_and_loads(synth, fx):
    out, _ = synth
    for split in ('train', 'valid_u', 'valid'):
        s = check_moment_file(out / 'moments' / f'{split}.json',
                              out / split / 'meta_expressions.json', require_all=True)
        assert s['missing'] == 0
        assert (s['video_level'] > 0) == (split == 'valid')
    check_moment_file(out / 'valid_gt' / 'moments.json', out / 'valid_gt' /
                      'meta_expressions.json', require_all=True)
    train = MeViSDataset(str(out), 'train', fx.TRAIN_PIPELINE, moment_file='moments/train.json')
    for i in range(len(train)):
        s = train[i]['data_samples']
        assert s.gt_mplus.sum() >= 2 and s.gt_masks.shape == (4, 64, 64)
    test = MeViSDataset(str(out), 'valid_u', fx.TEST_PIPELINE, test_mode=True,
                        moment_file='moments/valid_u.json')
    s = test[0]['data_samples']
    assert s.gt_masks.shape[1:] == (48, 64) and len(s.gt_mplus) == s.metainfo['num_video_frames']
    valid = MeViSDataset(str(out), 'valid', fx.TEST_PIPELINE, test_mode=True,
                         moment_file='moments/valid.json')
    assert 'gt_masks' not in valid[0]['data_samples']


def _tree(out):
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob('*')) if p.is_file() and p.name != 'info.json'}


def test_deterministic_for_a_seed(tmp_path, synth):
    out, _ = synth
    again = tmp_path / 'again'
    make_synthetic_mevis_m(again, seed=3, **SMALL)
    assert _tree(again) == _tree(out)
    other = tmp_path / 'other'
    make_synthetic_mevis_m(other, seed=4, **SMALL)
    assert _tree(other) != _tree(out)
    # more videos do not change the first ones
    more = tmp_path / 'more'
    make_synthetic_mevis_m(more, seed=3, **dict(SMALL, num_videos=6))
    a = json.loads((out / 'train' / 'meta_expressions.json').read_text())['videos']
    b = json.loads((more / 'train' / 'meta_expressions.json').read_text())['videos']
    assert all(a[v] == b[v] for v in a) and len(b) == 6


def test_out_dir_protection(tmp_path, synth):
    out, _ = synth
    with pytest.raises(FileExistsError):
        make_synthetic_mevis_m(out, **SMALL)
    tool = runpy.run_path('tools/data/make_synthetic_mevis_m.py', run_name='tool')
    assert tool['main'](['--out-dir', str(out), '--no-progress']) == 2
    assert tool['main'](['--out-dir', str(out), '--skip-existing']) == 0
    assert tool['main'](['--out-dir', str(tmp_path / 'x'), '--min-frames', '9',
                         '--max-frames', '3', '--no-progress']) == 2
    assert not (tmp_path / 'x').exists()                  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.x.tmp')]


def test_temporal_grounding_matters():
    """Moments are exactly when an object does what its expression says; look-alikes share
    shape and colour; some expressions hold for 20-50 % of the video; objects may leave."""
    n_partial = n_multi_diff = n_leave = n_lookalike_exps = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng, 96, 72, 24, kind='motion')
        _, masks = render(scene, rng)
        yy, xx = np.mgrid[0:72, 0:96].astype(np.float64) + 0.5
        objs = {o.obj_id: o for o in scene.objects}
        for exp in scene.expressions:
            if exp.family != 'motion':
                continue
            union = np.zeros(scene.num_frames, bool)
            for oid in exp.obj_ids:
                o = objs[oid]
                inside = spans_to_mask(exp.moments[oid], scene.num_frames)
                union |= inside
                dx = np.diff(o.xs, prepend=o.xs[0])
                dy = o.ys - o.ys.max()
                if exp.action in MOVES:
                    sign = -1 if exp.action == 'left' else 1
                    assert (sign * dx[inside] > 0).all()
                    visible = masks[oid].any(axis=(1, 2))
                    # never outside the moment (while it can be seen)
                    assert not (sign * dx[~inside & visible] > 0).any()
                elif exp.action == 'jump':
                    jumping = dy < -0.5
                    assert not jumping[~inside].any() and jumping[inside].any()
                elif exp.action in EXITS:
                    own = np.array([shape_mask(o.shape, o.xs[k], o.ys[k], o.radius, yy, xx).any()
                                    for k in range(scene.num_frames)])
                    end = max(e for _, e in exp.moments[oid])
                    assert own[inside].all() and not own[end + 1:].any()   # gone after it
                assert masks[oid][inside].any(axis=(1, 2)).any()    # visible in its moment
            cov = union.mean()
            n_partial += 0.2 <= cov <= 0.5
            if len({str(exp.moments[o]) for o in exp.obj_ids}) > 1:
                n_multi_diff += 1
            group = [o for o in scene.objects if o.shape == objs[exp.obj_ids[0]].shape]
            if len(group) > 1 and len(exp.obj_ids) < len(group):
                n_lookalike_exps += 1
                assert len({(o.shape, o.color) for o in group}) == 1
        n_leave += sum(any(s.action in EXITS for s in o.segments) for o in scene.objects)
    assert n_partial > 40 and n_multi_diff > 3 and n_leave > 5 and n_lookalike_exps > 40


def test_short_videos_get_valid_moments(tmp_path):
    """Videos too short for two actions get one: no reversed or out-of-range spans."""
    out = tmp_path / 'short'
    make_synthetic_mevis_m(out, num_videos=6, num_valid_u=10, num_valid=2, size=64, min_frames=6,
                           max_frames=8, progress=False, log=None)
    for split in ('train', 'valid_u'):
        check_moment_file(out / 'moments' / f'{split}.json',
                          out / split / 'meta_expressions.json')


def _json(path):
    return json.loads(path.read_text())['videos']


def test_families_and_objects_files(synth):
    """Every expression of meta_expressions.json has a family, every object its attributes;
    the public valid folder holds neither; info.json counts the families."""
    out, info = synth
    for split, folder in (('train', 'train'), ('valid_u', 'valid_u'), ('valid', 'valid_gt')):
        meta = _json(out / folder / 'meta_expressions.json')
        fams = _json(out / folder / 'expression_families.json')
        objs = _json(out / folder / 'objects.json')
        assert fams.keys() == meta.keys() == objs.keys()
        counts = dict.fromkeys(FAMILIES, 0)
        for vid, m in meta.items():
            assert fams[vid].keys() == m['expressions'].keys()
            for exp_id, exp in m['expressions'].items():
                family = fams[vid][exp_id]
                counts[family] += 1
                referred = [objs[vid][str(o)] for o in exp['obj_id']]
                if family == 'appearance':    # every object of that look, and no other
                    looks = {(o['shape'], o['color']) for o in referred}
                    assert len(looks) == 1
                    same = [k for k, o in objs[vid].items()
                            if (o['shape'], o['color']) in looks]
                    assert sorted(same) == sorted(str(o) for o in exp['obj_id'])
                elif family == 'event':
                    assert all(o['event'] in EVENTS for o in referred)
        assert counts == info['statistics'][split]['families']
        assert sum(counts.values()) == info['statistics'][split]['expressions']
    assert not (out / 'valid' / 'expression_families.json').exists()
    assert not (out / 'valid' / 'objects.json').exists()


def _look(frames, masks, scene, obj, k, yy, xx):
    """(mean colour, area) of ``obj`` in frame ``k`` from the rendered frame, or None when it is
    partly hidden by another object."""
    from tgl_mm.datasets.synthetic.scene import appearance_at
    full = shape_mask(obj.shape, obj.xs[k], obj.ys[k], appearance_at(obj, k)[1], yy, xx)
    seen = masks[obj.obj_id, k]
    if not seen.any() or (seen != full).any():
        return None
    return frames[k][seen].astype(float).mean(axis=0), float(seen.sum())


def test_event_objects_differ_from_look_alikes_only_in_their_moment():
    """On rendered frames: outside its moment an event object looks exactly like its plain
    look-alikes; in the moment it differs (on every frame a flash is bright)."""
    checked_out = checked_in = 0
    kinds = set()
    for seed in range(30):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng, 96, 72, 24, kind='event')
        frames, masks = render(scene, rng)
        yy, xx = np.mgrid[0:72, 0:96].astype(np.float64) + 0.5
        objs = {o.obj_id: o for o in scene.objects}
        for exp in scene.expressions:
            if exp.family != 'event':
                continue
            for oid in exp.obj_ids:
                obj = objs[oid]
                plain = [o for o in scene.objects if (o.shape, o.color) == (obj.shape, obj.color)
                         and o.event is None]
                moment = spans_to_mask(exp.moments[oid], scene.num_frames)
                assert exp.moments[oid] == [[obj.event.start, obj.event.end]]
                kinds.add(obj.event.kind)
                for other in plain:
                    for k in range(scene.num_frames):
                        a = _look(frames, masks, scene, obj, k, yy, xx)
                        b = _look(frames, masks, scene, other, k, yy, xx)
                        if a is None or b is None:
                            continue
                        colour_gap = np.abs(a[0] - b[0]).max()
                        area_ratio = a[1] / b[1]
                        if not moment[k]:
                            assert colour_gap < 1 and 0.8 < area_ratio < 1.25, (seed, k)
                            checked_out += 1
                        elif obj.event.active(k):
                            assert colour_gap > 20 or area_ratio > 1.5, (seed, k)
                            checked_in += 1
    assert checked_out > 200 and checked_in > 30 and kinds == set(EVENTS)


def test_event_moments_and_drift():
    """Event moments are 10-50 % of the video, early, middle and late; objects keep moving
    smoothly and stay inside the frame outside their moment too."""
    centres, lengths = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        t = int(rng.integers(20, 29))
        scene = make_scene(rng, 160, 120, t, kind='event')
        for obj in scene.objects:
            step = np.hypot(np.diff(obj.xs), np.diff(obj.ys))
            assert (step > 0).all() and step.max() < 0.1 * scene.width     # moving, no jumps
            reach = obj.radius * GROW_FACTOR
            assert (obj.xs - reach >= 0).all() and (obj.xs + reach <= scene.width).all()
            assert (obj.ys - reach >= 0).all() and (obj.ys + reach <= scene.height).all()
            if obj.event is not None:
                length = obj.event.end - obj.event.start + 1
                lengths.append(length / t)
                centres.append((obj.event.start + obj.event.end + 1) / 2 / t)
        assert any(e.family == 'event' for e in scene.expressions)
    lengths, centres = np.array(lengths), np.array(centres)
    assert (lengths >= EVENT_LENGTH[0]).all() and (lengths <= EVENT_LENGTH[1]).all()
    assert lengths.min() < 0.2 and lengths.max() > 0.4
    assert (centres < 1 / 3).sum() > 5 and ((centres > 1 / 3) & (centres < 2 / 3)).sum() > 5
    assert (centres > 2 / 3).sum() > 5


def _look_alikes(scene, exp):
    first = next(o for o in scene.objects if o.obj_id == exp.obj_ids[0])
    return [o for o in scene.objects if (o.shape, o.color) == (first.shape, first.color)]


def test_shared_and_disjoint_event_expressions():
    """Look-alikes often share an event, each at its own time: one expression about 2-3 objects
    whose moments are disjoint, never about every look-alike; videos still hold event
    expressions about disjoint objects."""
    shared = disjoint = three = 0
    for seed in range(60):
        scene = make_scene(np.random.default_rng(seed), 96, 72, 24, kind='event')
        events = [e for e in scene.expressions if e.family == 'event']
        for exp in events:
            if len(exp.obj_ids) < 2:
                continue
            spans = sorted(exp.moments[o][0] for o in exp.obj_ids)
            assert all(b[0] > a[1] for a, b in zip(spans, spans[1:])), (seed, spans)
            assert len(exp.obj_ids) < len(_look_alikes(scene, exp))
            shared += 1
            three += len(exp.obj_ids) == 3
        disjoint += len(events) > 1
    assert shared > 30 and three > 10 and disjoint > 10


def test_shared_motion_expressions():
    """Look-alikes often perform the same action each in its own window: one motion expression
    about several objects whose moments differ."""
    shared = 0
    for seed in range(60):
        scene = make_scene(np.random.default_rng(seed), 96, 72, 24, kind='motion')
        for exp in scene.expressions:
            if exp.family == 'motion' and len(exp.obj_ids) > 1:
                firsts = [exp.moments[o][0][0] for o in exp.obj_ids]
                shared += len(set(firsts)) == len(firsts)     # each at its own time
    assert shared > 30


def test_start_position_does_not_depend_on_the_action():
    """A scripted object starts anywhere in the same band whatever it will do (objects that
    will move left do not start on the right), and stays inside the frame unless it leaves."""
    width, height = 160, 120
    starts: dict[str, list[float]] = {}
    for seed in range(300):
        scene = make_scene(np.random.default_rng(seed), width, height, 24, kind='motion')
        for obj in scene.objects:
            first = obj.segments[0].action if obj.segments else 'still'
            starts.setdefault(first, []).append(float(obj.xs[0]))
            if not any(s.action in EXITS for s in obj.segments):
                assert (obj.xs - obj.radius >= 0).all() and (obj.xs + obj.radius <= width).all()
    assert min(len(starts[a]) for a in ('left', 'right', 'exit_left', 'exit_right')) > 100
    # sampling noise: about 2 px per mean; the old generator's gap was about half the width
    means = {a: np.mean(v) for a, v in starts.items() if len(v) > 100}
    assert max(means.values()) - min(means.values()) < 0.05 * width, means


def test_random_video_in_memory():
    """The in-memory renderer (for tracking pretraining) gives frames and per-object masks."""
    scene, frames, masks = random_video(np.random.default_rng(0), 64, 48, 10)
    assert frames.dtype == np.uint8 and frames.shape == (10, 48, 64, 3)
    assert masks.dtype == bool and masks.shape == (len(scene.objects), 10, 48, 64)
    assert masks.any(axis=(1, 2, 3)).all()
    again = random_video(np.random.default_rng(0), 64, 48, 10)
    assert np.array_equal(again[1], frames) and np.array_equal(again[2], masks)
    with pytest.raises(ValueError, match='unknown scene kind'):
        make_scene(np.random.default_rng(0), 64, 48, 10, kind='dance')


def test_dataset_points_the_metric_at_the_families_file(synth, fx):
    """MeViSDataset tells the evaluator (dataset_meta) where the families file is."""
    out, _ = synth
    ds = MeViSDataset(str(out), 'valid_u', fx.TEST_PIPELINE, test_mode=True,
                      moment_file='moments/valid_u.json')
    assert ds.metainfo['families_file'] == str(out / 'valid_u' / 'expression_families.json')
    public = MeViSDataset(str(out), 'valid', fx.TEST_PIPELINE, test_mode=True,
                          moment_file='moments/valid.json')
    assert public.metainfo['families_file'] is None


def test_swap_partner_rule():
    from tgl_mm.datasets.sentence_swap import swap_partner
    objs, texts = [[0], [0, 1], [2], [1]], ['a', 'b', 'c', 'd']
    assert [swap_partner(i, objs, texts) for i in range(4)] == [2, 2, 3, 0]
    assert swap_partner(0, [[0], [1]], ['the dog', 'The  dog']) is None   # same sentence
    assert swap_partner(0, [[0]], ['a']) is None


def test_sentence_swap_dataset(synth, fx):
    """swap_sentences: each sample gets the sentence of an expression of its video with
    disjoint objects and keeps its own masks and moments; the others are dropped and counted."""
    out, _ = synth
    kw = dict(test_mode=True, moment_file='moments/valid_u.json')
    own = MeViSDataset(str(out), 'train', fx.TEST_PIPELINE, **kw | dict(
        moment_file='moments/train.json'))
    swapped = MeViSDataset(str(out), 'train', fx.TEST_PIPELINE, swap_sentences=True,
                           **kw | dict(moment_file='moments/train.json'))
    meta = _json(out / 'train' / 'meta_expressions.json')
    counts = swapped.metainfo['sentence_swap']
    assert counts['swapped'] == len(swapped) and counts['swapped'] > 0
    assert counts['swapped'] + counts['dropped'] == len(own)
    index = {(i['video_id'], i['exp_id']): k for k, i in
             enumerate(own.get_data_info(k) for k in range(len(own)))}
    for k in range(len(swapped)):
        info = swapped.get_data_info(k)
        exps = meta[info['video_id']]['expressions']
        partner = exps[info['swapped_from']]
        assert info['text'] == partner['exp'] != exps[info['exp_id']]['exp']
        assert set(partner['obj_id']).isdisjoint(exps[info['exp_id']]['obj_id'])
        a = swapped[k]['data_samples']
        b = own[index[(info['video_id'], info['exp_id'])]]['data_samples']
        assert a.metainfo['text'] == partner['exp']
        assert torch.equal(a.gt_masks, b.gt_masks) and torch.equal(a.gt_mplus, b.gt_mplus)
    with pytest.raises(ValueError, match='sentence swap needs the referred objects'):
        MeViSDataset(str(out), 'valid', fx.TEST_PIPELINE, swap_sentences=True,
                     **kw | dict(moment_file='moments/valid.json'))


@pytest.fixture(scope='module')
def medium(tmp_path_factory):
    """60 train / 30 valid_u videos of default length at 64 px (about 2 s)."""
    out = tmp_path_factory.mktemp('syn_medium') / 'syn'
    info = make_synthetic_mevis_m(out, seed=3, num_videos=60, num_valid_u=30, num_valid=1,
                                  size=64, progress=False, log=None)
    return out, info


def test_multi_object_expressions_with_different_moments(medium):
    """Generator v3: >= 30 % of the expressions of train and valid_u refer to two or more
    objects, and in at least half of those the objects' moments differ (counted from the written
    files); info.json reports the same shares and the share of training clips whose targets OSS
    changes, as oss_changed_share computes it from the moment file."""
    from tgl_mm.datasets.oss_effect import oss_changed_share
    from tgl_mm.datasets.synthetic.generate import GENERATOR_VERSION, OSS_CLIPS
    from tgl_mm.formats import load_moments
    out, info = medium
    assert info['version'] == GENERATOR_VERSION == 4
    for split in ('train', 'valid_u'):
        meta = _json(out / split / 'meta_expressions.json')
        mf = load_moments(out / 'moments' / f'{split}.json')
        n = multi = differ = 0
        for vid, m in meta.items():
            for exp_id, exp in m['expressions'].items():
                n += 1
                if len(exp['obj_id']) < 2:
                    continue
                multi += 1
                objs = mf.moments[vid][exp_id].objects
                differ += len({objs[o] for o in exp['obj_id']}) > 1
        st = info['statistics'][split]
        assert multi / n >= 0.3 and differ / multi >= 0.5, (split, n, multi, differ)
        assert st['multi_object_share'] == round(multi / n, 4)
        assert st['different_moments_share_of_multi'] == round(differ / multi, 4)
        assert st['oss_changed_clips'] == oss_changed_share(mf.moments, mf.num_frames,
                                                            **OSS_CLIPS)
    assert info['statistics']['train']['oss_changed_clips']['share'] >= 0.12
    assert 'oss_changed_clips' not in info['statistics']['valid']    # video-level moments
    saved = json.loads((out / 'info.json').read_text())['statistics']
    assert saved['train']['oss_changed_clips'] == info['statistics']['train']['oss_changed_clips']
