"""The synthetic referring-image split (the RefCOCO stand-in): sentences that pick exactly their
objects in the frame, from the rendered scene only; written in the refer-toolkit layout that
RefCOCODataset reads, consistent with the video split's masks."""
from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

from tgl_mm.datasets import RefCOCODataset
from tgl_mm.datasets.refcoco import load_refs_pickle
from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
from tgl_mm.datasets.synthetic.image_refer import (
    SENTENCE_KINDS,
    describe_frame,
    eligible_frames,
    frame_objects,
    image_refs_for_video,
)
from tgl_mm.datasets.synthetic.scene import COLORS, SHAPES, make_scene, render
from tgl_mm.formats import decode_rle

NUMBERS = {'two': 2, 'three': 3, 'four': 4, 'five': 5}
SIDES = {'leftmost': ('x', min), 'rightmost': ('x', max), 'topmost': ('y', min),
         'lowest': ('y', max), 'on the left': ('x', min), 'on the right': ('x', max),
         'at the top': ('y', min), 'at the bottom': ('y', max)}


def resolve(sentence: str, objects) -> set[int]:
    """An independent reading of a generated sentence: the objects of the frame it names."""
    text = sentence
    side = next((s for s in SIDES if text.endswith(' ' + s)), None)
    if side and side.startswith(('on ', 'at ')):
        text = text[:-len(side) - 1]
    words = text.split()
    assert words[0] == 'the', sentence
    words = words[1:]
    count = NUMBERS.get(words[0])
    if count:
        words = words[1:]
    if words[0] in SIDES:
        side, words = words[0], words[1:]
    size = words[0] if words[0] in ('big', 'small') else None
    if size:
        words = words[1:]
    color = words[0] if words[0] in COLORS else None
    if color:
        words = words[1:]
    (noun,) = words
    plural = noun not in SHAPES and noun != 'shape'
    shape = noun.removesuffix('s') if noun.removesuffix('s') in SHAPES else None
    cands = [o for o in objects
             if (color is None or o.color == color) and (shape is None or o.shape == shape)
             and (size is None or o.big == (size == 'big'))]
    if side:
        axis, pick = SIDES[side]
        key = (lambda o: o.cx) if axis == 'x' else (lambda o: o.cy)
        best = pick(cands, key=key)
        others = [key(o) for o in cands if o is not best]
        assert others and all(abs(key(best) - v) >= 1 for v in others), sentence
        cands = [best]
    assert plural == (len(cands) > 1), sentence
    if count:
        assert len(cands) == count, sentence
    return {o.obj_id for o in cands}


def test_sentences_pick_exactly_their_objects():
    """Over many scenes of both kinds: every sentence, read independently, names exactly its
    ref's objects among the frame's visible objects; described objects are mostly visible; each
    kind of description occurs."""
    kinds = set()
    n_refs = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng, 96, 72, 16, kind=('event', 'motion')[seed % 2])
        _, masks = render(scene, rng)
        for k in eligible_frames(scene)[::3]:
            objects = frame_objects(scene, masks, k)
            by_id = {o.obj_id: o for o in objects}
            for ref in describe_frame(objects, rng, SENTENCE_KINDS):
                n_refs += 1
                assert all(by_id[o].describable for o in ref.obj_ids)
                for sentence in ref.sentences:
                    assert resolve(sentence, objects) == set(ref.obj_ids), (seed, k, sentence)
                    kinds.update(w for w in ('big', 'small', 'leftmost', 'lowest', 'on the left',
                                             'at the top', 'two', 'three', 'shape')
                                 if w in sentence)
    assert n_refs > 300
    assert kinds == {'big', 'small', 'leftmost', 'lowest', 'on the left', 'at the top', 'two',
                     'three', 'shape'}


def test_sentence_kinds():
    """The default split names objects by their look only (colour and shape, with count and
    size), as the video expressions do; each kind adds only its own sentences; an unknown or
    empty choice is refused."""
    looks = {f'{c} {s}' for c in COLORS for s in SHAPES}
    seen = {kind: set() for kind in SENTENCE_KINDS}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng, 96, 72, 16, kind=('event', 'motion')[seed % 2])
        _, masks = render(scene, rng)
        objects = frame_objects(scene, masks, eligible_frames(scene)[0])
        default = describe_frame(objects, np.random.default_rng(0))
        assert default == describe_frame(objects, np.random.default_rng(0), ('look',))
        for ref in default:
            for sentence in ref.sentences:
                assert any(look in sentence or look + 'es' in sentence or look + 's' in sentence
                           for look in looks), sentence
                assert not {'left', 'right', 'top', 'bottom', 'lowest', 'leftmost', 'rightmost',
                            'topmost', 'shape'} & set(sentence.split()), sentence
        for kind in SENTENCE_KINDS:
            seen[kind] |= {s for r in describe_frame(objects, np.random.default_rng(0), (kind,))
                           for s in r.sentences}
    assert any('shape' in s for s in seen['colour'])
    assert any('lowest' in s or 'left' in s or 'top' in s for s in seen['position'])
    assert all(not any(c in s.split() for c in COLORS) for s in seen['shape'])
    for bad in ((), ('look', 'size')):
        with pytest.raises(ValueError, match='sentence kinds'):
            describe_frame([], np.random.default_rng(0), bad)
        with pytest.raises(ValueError, match='image_sentence_kinds'):
            make_synthetic_mevis_m('/nonexistent/x', image_sentence_kinds=bad, progress=False,
                                   log=None)


def test_frames_show_what_the_sentences_say():
    """A colour event's colour names the object while it lasts; frames in which something
    flashes or has a ring are not used; sentences never use the video expressions' words."""
    seen_event_colour = False
    for seed in range(30):
        rng = np.random.default_rng(seed)
        scene = make_scene(rng, 96, 72, 16, kind='event')
        _, masks = render(scene, rng)
        ok = eligible_frames(scene)
        for obj in scene.objects:
            ev = obj.event
            if ev is None:
                continue
            active = [k for k in range(scene.num_frames) if ev.active(k)]
            if ev.kind in ('flash', 'ring'):
                assert not set(active) & set(ok)
            elif ev.kind == 'color':
                for k in set(active) & set(ok):
                    o = next(x for x in frame_objects(scene, masks, k) if x.obj_id == obj.obj_id)
                    assert o.color == ev.color != obj.color
                    seen_event_colour = True
        for k in ok[:4]:
            for ref in describe_frame(frame_objects(scene, masks, k), rng, SENTENCE_KINDS):
                for s in ref.sentences:
                    assert not {'moving', 'flash', 'turns', 'grows', 'ring', 'jumping'} & \
                        set(s.split()), s
    assert seen_event_colour


def test_image_refs_ignore_the_expressions():
    """The image split reads the objects and frames only: a scene with its expressions removed
    gives the same frames and sentences."""
    rng = np.random.default_rng(4)
    scene = make_scene(rng, 96, 72, 16, kind='motion')
    frames, masks = render(scene, rng)
    bare = dataclasses.replace(scene, expressions=[])
    a = image_refs_for_video('v', scene, frames, masks, np.random.default_rng(0), 3)
    b = image_refs_for_video('v', bare, frames, masks, np.random.default_rng(0), 3)
    assert [(x.frame, [(r.obj_ids, r.sentences) for r in x.refs]) for x in a] == \
        [(x.frame, [(r.obj_ids, r.sentences) for r in x.refs]) for x in b]
    assert len(a) == 3 and len({x.frame for x in a}) == 3


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp('imgref') / 'syn'
    info = make_synthetic_mevis_m(out, seed=7, num_videos=4, num_valid_u=2, num_valid=1, size=64,
                                  min_frames=10, max_frames=12, progress=False, log=None)
    return out, info


def test_written_split_matches_the_video_masks_and_loads(tree, fx):
    """refs(unc).p (plain data) and instances.json: every annotation is the union of its
    objects' masks in the video split (objects.json anno_id -> mask_dict.json) on that frame, and
    the image is the video's frame; RefCOCODataset reads train and val."""
    out, info = tree
    root = out / 'image_refer'
    refs = load_refs_pickle(root / 'refcoco' / 'refs(unc).p')
    inst = json.loads((root / 'refcoco' / 'instances.json').read_text())
    images = {i['id']: i for i in inst['images']}
    anns = {a['id']: a for a in inst['annotations']}
    assert {r['split'] for r in refs} == {'train', 'val'}
    counts = info['image_refer']['splits']
    assert counts['train']['refs'] == sum(r['split'] == 'train' for r in refs)
    assert counts['val']['sentences'] == sum(len(r['sentences']) for r in refs
                                             if r['split'] == 'val')
    masks = {s: json.loads((out / s / 'mask_dict.json').read_text()) for s in ('train', 'valid_u')}
    objs = {s: json.loads((out / s / 'objects.json').read_text())['videos']
            for s in ('train', 'valid_u')}
    for ref in refs:
        ann, image = anns[ref['ann_id']], images[ref['image_id']]
        split = 'train' if ref['split'] == 'train' else 'valid_u'
        vid, k = image['video_id'], image['frame']
        assert image['file_name'].startswith(vid) and vid.startswith(split)
        union = np.zeros((image['height'], image['width']), dtype=bool)
        for o in ann['obj_ids']:
            rle = masks[split][objs[split][vid][str(o)]['anno_id']][k]
            union |= decode_rle(rle)
        mine = decode_rle(ann['segmentation'])
        assert np.array_equal(mine, union) and mine.any()
        assert (root / 'images' / image['file_name']).read_bytes() == \
            (out / split / 'JPEGImages' / vid / f'{k:05d}.jpg').read_bytes()
    with open(root / 'refcoco' / 'refs(unc).p', 'rb') as f:
        assert pickle.load(f) == refs
    for split in ('train', 'val'):
        ds = RefCOCODataset(str(root), split, fx.TRAIN_PIPELINE if split == 'train'
                            else fx.TEST_PIPELINE, img_prefix='images', test_mode=split == 'val')
        assert len(ds) == counts[split]['sentences']
        s = ds[0]['data_samples']
        assert s.gt_masks.any() and s.gt_mplus.all()


def test_no_image_split_on_request(tmp_path):
    out = tmp_path / 'syn'
    info = make_synthetic_mevis_m(out, seed=7, num_videos=1, num_valid_u=1, num_valid=1, size=64,
                                  min_frames=8, max_frames=8, image_frames_per_video=0,
                                  progress=False, log=None)
    assert 'image_refer' not in info and not (out / 'image_refer').exists()
    with pytest.raises(ValueError, match='image_frames_per_video'):
        make_synthetic_mevis_m(tmp_path / 'x', image_frames_per_video=-1, progress=False,
                               log=None)
