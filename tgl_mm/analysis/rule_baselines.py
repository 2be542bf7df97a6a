"""Non-learned rule baselines on synthetic MeViS-M, scored with the project's J&F.

Every rule is given each object's ground-truth masks (``mask_dict.json`` through
``objects.json``'s ``anno_id``), so segmentation and tracking are perfect: a rule only has to
decide *which* objects an expression refers to. What it may read: the sentence, the attributes of
``objects.json`` (shape and colour outside any event -- never the event kind or its frames) and the
rendered frames. It never reads the referred ``obj_id``, the moments or the families (families
only group the scores).

Rules (:data:`RULES`):

* ``all_objects`` -- segment every object of the video.
* ``named_look`` -- every object of the shape named in the sentence; if some of them have a
  named colour, only those (no shape named: every object).
* ``best`` -- the best rule we could write for each kind of sentence, chosen from its words:

  - an event word ("turns", "flashing", "grows", "ring", ...): among the ``named_look``
    objects, those whose frames show that event -- per frame, mean colour, area and colour
    spread inside the object's mask against the look-alikes' typical appearance; deviating frames
    are classified as ``grow`` (area up), ``ring`` (spread up), ``flash`` (every other frame) or
    ``color`` (else; the colour nearest the new mean) -- then the whole track of those objects;
  - a motion word ("left", "right", "jumping", "leaving", "stopping", "never moves"): among the
    ``named_look`` objects, those whose mask centroid track performs the action at some time;
  - otherwise ``named_look`` (exact for appearance sentences).

  When no object qualifies, the ``named_look`` objects are used.
* ``no_memory`` -- ``best`` without carrying identity through time: an event sentence's objects
  are segmented only on the frames where their event is seen (what a model gets from the
  sentence alone, without memory); other sentences as ``best``.

Because the rules get perfect object tracks, ``best`` is an upper bound on choosing objects from
the sentence, frames and attributes, not a segmentation baseline; ``no_memory`` shows what the
event family loses without propagation.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tgl_mm.datasets.synthetic.scene import COLORS, SHAPES
from tgl_mm.evaluation.families import attach_families, summarize_by_family
from tgl_mm.evaluation.metrics.rvos_metric import expression_record
from tgl_mm.evaluation.report import summarize
from tgl_mm.formats import (
    FAMILIES_FILE,
    DataFormatError,
    expression_target,
    frame_path,
    load_families,
    load_mask_dict,
    read_rgb_frames,
)

__all__ = ['RULES', 'VideoData', 'load_videos', 'named_look', 'named_event', 'named_motion',
           'detect_events', 'performs', 'apply_rule', 'score_rules', 'format_rule_table']

RULES = ('all_objects', 'named_look', 'best', 'no_memory')

#: deviation from the look-alikes' typical appearance that counts as an event frame
COLOR_JUMP, AREA_JUMP, SPREAD_JUMP = 25.0, 1.25, 20.0
#: centroid movement (px per frame) that counts as motion; rise (px) that counts as a jump
MOVE_EPS, JUMP_EPS = 0.5, 1.0

_EVENT_WORDS = {
    'color': ('turns', 'turn', 'turning', 'becomes', 'become'),
    'flash': ('flashing', 'blinks', 'blink', 'lights', 'light'),
    'grow': ('grows', 'grow', 'bigger', 'swells', 'swell'),
    'ring': ('ring', 'rings', 'outline', 'outlines'),
}


@dataclass
class VideoData:
    """What a rule may see of a video (plus the expressions' targets, for scoring)."""

    video_id: str
    frames: np.ndarray                      # uint8 (T, H, W, 3) RGB
    masks: dict[str, np.ndarray]            # obj_id -> bool (T, H, W)
    attrs: dict[str, dict]                  # obj_id -> {"shape", "color"}
    expressions: dict[str, dict]            # exp_id -> {"exp", "obj_id", "anno_id"}


def _ann_dir(data_root: Path, split: str) -> Path:
    """Where a split's annotations are (``valid``'s are in ``valid_gt``)."""
    return data_root / ('valid_gt' if split == 'valid' else split)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found (generate the data with '
                                'tools/data/make_synthetic_mevis_m.py)')
    return json.loads(path.read_text(encoding='utf-8'))['videos']


def load_videos(data_root: str | os.PathLike, split: str) -> Iterator[VideoData]:
    """The videos of a generated split, one at a time."""
    root = Path(data_root)
    ann = _ann_dir(root, split)
    meta = _read_json(ann / 'meta_expressions.json')
    objects = _read_json(ann / 'objects.json')
    mask_file = ann / 'mask_dict.json'
    mask_dict = load_mask_dict(mask_file)
    for vid, m in meta.items():
        if vid not in objects:
            raise DataFormatError('video missing from objects.json', file=ann / 'objects.json',
                                  video=vid)
        frames = read_rgb_frames([frame_path(root / split, vid, f) for f in m['frames']],
                                 dict(video=vid))
        size = frames.shape[1:3]
        inds = range(len(m['frames']))
        masks = {oid: expression_target(mask_dict, [a['anno_id']], inds, size, video=vid,
                                        source=str(mask_file))
                 for oid, a in objects[vid].items()}
        yield VideoData(vid, frames, masks, objects[vid], m['expressions'])


# ------------------------------------------------------------------------------ sentence
def _words(text: str) -> list[str]:
    return re.findall(r'[a-z]+', text.lower())


def _plural(shape: str) -> str:
    return shape + 'es' if shape.endswith('s') else shape + 's'


def named_look(text: str, attrs: dict[str, dict]) -> list[str]:
    """Objects of the named shape, narrowed to a named colour when one of them has it."""
    words = set(_words(text))
    shapes = {s for s in SHAPES if s in words or _plural(s) in words}
    cands = [o for o, a in attrs.items() if not shapes or a['shape'] in shapes]
    colored = [o for o in cands if attrs[o]['color'] in words]
    return sorted(colored or cands, key=int)


def named_event(text: str) -> str | None:
    """The event kind a sentence names, if any."""
    words = set(_words(text))
    for kind, keys in _EVENT_WORDS.items():
        if words & set(keys):
            return kind
    return None


def named_motion(text: str) -> str | None:
    """The motion a sentence names (the generator's action keys), if any."""
    w = _words(text)
    side = 'left' if 'left' in w else 'right' if 'right' in w else None
    joined = ' '.join(w)
    if 'leaving' in w or 'out of view' in joined:
        return f'exit_{side}' if side else None
    if side and ('stopping' in w or 'stops' in w):
        return f'{side}_stop'
    if {'jumping', 'bouncing', 'hopping'} & set(w):
        return 'jump'
    if 'never moves' in joined or 'still' in w:
        return 'still'
    return side


# ------------------------------------------------------------------------------ frames
def _looks(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per frame ``[r, g, b, area, spread]`` inside the mask (NaN where it is empty)."""
    out = np.full((len(frames), 5), np.nan)
    for t, (img, m) in enumerate(zip(frames, mask)):
        if m.any():
            px = img[m].astype(np.float64)
            out[t, :3] = px.mean(axis=0)
            out[t, 3] = m.sum()
            out[t, 4] = px.std(axis=0).mean()
    return out


def _nearest_color(rgb: np.ndarray) -> str:
    names = list(COLORS)
    dist = [np.abs(np.asarray(COLORS[n]) - rgb).sum() for n in names]
    return names[int(np.argmin(dist))]


def _event_frames(looks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per object, bool (T,): the frames whose look deviates from the typical look of all."""
    ref = np.nanmedian(np.concatenate(list(looks.values())), axis=0)
    out = {}
    for o, lk in looks.items():
        seen = ~np.isnan(lk[:, 0])
        color_gap = np.abs(lk[:, :3] - ref[:3]).max(axis=1)
        area = lk[:, 3] / ref[3]
        spread = lk[:, 4] - ref[4]
        out[o] = seen & ((color_gap > COLOR_JUMP) | (area > AREA_JUMP) | (spread > SPREAD_JUMP))
    return out


def detect_events(video: VideoData, obj_ids: list[str]
                  ) -> dict[str, tuple[str, str, np.ndarray] | None]:
    """For each object, ``(kind, colour, frames)`` of the event its frames show against the
    typical appearance of ``obj_ids`` (look-alikes), or ``None``; ``frames`` is bool (T,)."""
    looks = {o: _looks(video.frames, video.masks[o]) for o in obj_ids}
    ref = np.nanmedian(np.concatenate(list(looks.values())), axis=0)
    out: dict[str, tuple[str, str, np.ndarray] | None] = {}
    for o, dev in _event_frames(looks).items():
        lk = looks[o]
        frames = np.flatnonzero(dev)
        if not len(frames):
            out[o] = None
            continue
        new_color = _nearest_color(np.median(lk[frames, :3], axis=0))
        if np.median(lk[frames, 3] / ref[3]) > AREA_JUMP:
            kind = 'grow'
        elif np.median(lk[frames, 4] - ref[4]) > SPREAD_JUMP:
            kind = 'ring'
        elif len(frames) > 1 and (np.diff(frames) == 2).all():
            kind = 'flash'
        else:
            kind = 'color'
        out[o] = (kind, new_color, dev)
    return out


def _centroids(mask: np.ndarray) -> np.ndarray:
    """(T, 2) centroid x, y per frame (NaN where the mask is empty)."""
    out = np.full((len(mask), 2), np.nan)
    for t, m in enumerate(mask):
        ys, xs = np.nonzero(m)
        if len(xs):
            out[t] = xs.mean(), ys.mean()
    return out


def performs(mask: np.ndarray, action: str) -> bool:
    """Whether an object's mask track performs ``action`` at some time (see
    :func:`named_motion`)."""
    c = _centroids(mask)
    seen = ~np.isnan(c[:, 0])
    if not seen.any():
        return False
    dx = np.diff(c[:, 0])
    lane = np.nanmax(c[:, 1])
    jumping = seen & (c[:, 1] < lane - JUMP_EPS)
    moving = np.concatenate([[False], np.abs(np.nan_to_num(dx)) > MOVE_EPS]) | jumping
    if action in ('left', 'right'):
        sign = -1 if action == 'left' else 1
        return bool((np.nan_to_num(sign * dx) > MOVE_EPS).any())
    if action == 'jump':
        return bool(jumping.any())
    if action.startswith('exit_'):
        last = int(np.flatnonzero(seen)[-1])
        side = 'left' if c[last, 0] < mask.shape[2] / 2 else 'right'
        return last < len(mask) - 1 and action == f'exit_{side}'
    if action.endswith('_stop'):
        if not performs(mask, action[:-5]):
            return False
        last_move = int(np.flatnonzero(moving)[-1])
        rest = seen[last_move + 1:] & ~moving[last_move + 1:]
        return int(rest[:3].sum()) >= 3
    if action == 'still':
        return bool(seen.all() and not moving.any())
    raise ValueError(f'unknown action {action!r}')


# ------------------------------------------------------------------------------ rules
#: a rule's choice: obj_id -> bool (T,) frames on which that object is segmented
Choice = dict[str, np.ndarray]


def _everywhere(video: VideoData, obj_ids: list[str]) -> Choice:
    return {o: np.ones(len(video.frames), dtype=bool) for o in obj_ids}


def _best(video: VideoData, text: str, memory: bool = True) -> Choice:
    cands = named_look(text, video.attrs)
    kind = named_event(text)
    if kind is not None:
        words = set(_words(text))
        picked = {o: ev[2] for o, ev in detect_events(video, cands).items()
                  if ev is not None and ev[0] == kind
                  and (kind != 'color' or ev[1] in words or not words & set(COLORS))}
        if not picked:
            return _everywhere(video, cands)
        return _everywhere(video, list(picked)) if memory else picked
    action = named_motion(text)
    if action is not None:
        return _everywhere(video, [o for o in cands if performs(video.masks[o], action)]
                           or cands)
    return _everywhere(video, cands)


_RULES: dict[str, Callable[[VideoData, str], Choice]] = {
    'all_objects': lambda video, text: _everywhere(video, sorted(video.masks, key=int)),
    'named_look': lambda video, text: _everywhere(video, named_look(text, video.attrs)),
    'best': _best,
    'no_memory': lambda video, text: _best(video, text, memory=False),
}


def apply_rule(rule: str, video: VideoData, text: str) -> np.ndarray:
    """The rule's prediction for a sentence: the union of the chosen objects' masks on the
    chosen frames, bool (T, H, W)."""
    if rule not in _RULES:
        raise ValueError(f'unknown rule {rule!r}; one of {RULES}')
    pred = np.zeros(video.frames.shape[:3], dtype=bool)
    for o, frames in _RULES[rule](video, text).items():
        pred[frames] |= video.masks[o][frames]
    return pred


def score_rules(data_root: str | os.PathLike, split: str,
                rules: tuple[str, ...] = RULES) -> dict:
    """``{rule: {"overall": summary, "per_family": {family: summary}}}`` with J, F, J&F per
    expression as :class:`RVOSMetric` computes them (families from the split's families file,
    when present)."""
    records: dict[str, list[dict]] = {r: [] for r in rules}
    for video in load_videos(data_root, split):
        for exp_id, exp in video.expressions.items():
            gt = np.zeros(video.frames.shape[:3], dtype=bool)
            for o in exp['obj_id']:
                gt |= video.masks[str(o)]
            for rule in rules:
                records[rule].append(expression_record(
                    video.video_id, exp_id, apply_rule(rule, video, exp['exp']), gt,
                    text=exp['exp']))
    fam_path = _ann_dir(Path(data_root), split) / FAMILIES_FILE
    families = load_families(fam_path) if fam_path.is_file() else None
    out = {}
    for rule, recs in records.items():
        if families is not None:
            attach_families(recs, families, source=fam_path)
        out[rule] = {'overall': summarize(recs), 'per_family': summarize_by_family(recs)}
    return out


def format_rule_table(scores: dict) -> str:
    """J&F per rule (rows) and family (columns, then ``all``)."""
    families = sorted({f for s in scores.values() for f in s['per_family']})
    head = f'{"rule":<12}' + ''.join(f' {f:>11}' for f in families) + f' {"all":>11}'
    lines = [head]
    for rule, s in scores.items():
        cells = [s['per_family'].get(f, {}).get('J&F') for f in families]
        cells.append(s['overall'].get('J&F'))
        lines.append(f'{rule:<12}' + ''.join(
            f' {"-":>11}' if c is None else f' {c:11.1f}' for c in cells))
    counts = [scores[next(iter(scores))]['per_family'][f]['num_expressions'] for f in families]
    total = scores[next(iter(scores))]['overall']['num_expressions']
    lines.append(f'{"expressions":<12}' + ''.join(f' {n:11d}' for n in counts) + f' {total:11d}')
    return '\n'.join(lines)
