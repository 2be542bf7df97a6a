"""Synthetic MeViS-M scenes: look-alike shapes that differ only in how and when they move.

A video holds one group of 2-3 *look-alikes* (same shape, same colour) and usually a distractor
group of another shape and colour. Every object follows a motion script: still, with one or two
action segments (move left/right, jump, leave the frame). Expressions describe actions
("the circle jumping", "the squares moving left", "the triangle moving right and then stopping");
an expression refers to every object of the named group that performs the action at some time,
and each object's moment is exactly the frames in which it performs it. Outside its moment an
object never performs the described motion, and look-alikes are indistinguishable while still, so
only *when* something happens tells the referred object apart: temporal grounding matters.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPES = ('circle', 'square', 'triangle', 'diamond')
COLORS = {'red': (230, 50, 50), 'green': (50, 205, 80), 'blue': (60, 110, 245),
          'yellow': (240, 215, 50), 'magenta': (225, 70, 220), 'white': (235, 235, 235)}
BACKGROUND = (28, 30, 34)

MOVES = ('left', 'right')
EXITS = ('exit_left', 'exit_right')
JUMP_PERIOD = 6


@dataclass
class Segment:
    """Frames ``start..end`` (inclusive) during which the object performs ``action``."""

    action: str
    start: int
    end: int


@dataclass
class SceneObject:
    obj_id: int
    shape: str
    color: str
    radius: float
    segments: list[Segment] = field(default_factory=list)
    xs: np.ndarray | None = None   # (T,) centre x per frame
    ys: np.ndarray | None = None   # (T,) centre y per frame


@dataclass
class Expression:
    text: str
    obj_ids: list[int]
    moments: dict[int, list[list[int]]]   # obj_id -> inclusive spans
    action: str                           # left/right/jump/exit_*/left_stop/right_stop/still


@dataclass
class Scene:
    width: int
    height: int
    num_frames: int
    objects: list[SceneObject]
    expressions: list[Expression]


# ---------------------------------------------------------------------------------- scripts
#: shortest video that fits two actions (see :func:`_plan_segments`)
MIN_FRAMES_TWO_ACTIONS = 11


def jump_amplitude(height: int, radius: float) -> float:
    """Peak height of a jump in pixels."""
    return 0.09 * height + 0.4 * radius


def _plan_segments(rng: np.random.Generator, t: int, actions: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans for ``actions`` in order, each 20-45 % of the video, separated by
    still gaps of at least 3 frames; none starts at frame 0 (a motion needs a frame before it
    to be visible)."""
    n = len(actions)
    lo, hi = max(3, round(0.2 * t)), max(4, round(0.45 * t))
    lengths = [int(rng.integers(lo, hi + 1)) for _ in range(n)]
    while sum(lengths) + 3 * (n - 1) > t - 2:
        lengths = [max(3, length - 1) for length in lengths]
        if sum(lengths) + 3 * (n - 1) > t - 2 and all(length == 3 for length in lengths):
            break
    free = t - 1 - sum(lengths) - 3 * (n - 1)
    cuts = np.sort(rng.integers(0, max(free, 0) + 1, size=n))
    spans, cursor = [], 1
    for i, length in enumerate(lengths):
        start = cursor + int(cuts[i]) - (int(cuts[i - 1]) if i else 0)
        spans.append((start, min(t - 1, start + length - 1)))
        cursor = spans[-1][1] + 1 + 3
    return spans


def _visible(shape: str, cx: float, cy: float, r: float, width: int, height: int) -> bool:
    """Whether any pixel of the (unoccluded) shape lies inside the frame."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    return bool(shape_mask(shape, cx, cy, r, yy, xx).any())


def simulate(rng: np.random.Generator, obj: SceneObject, actions: list[str], t: int,
             width: int, height: int, lane_y: float, speed: float) -> None:
    """Fill ``obj.segments``, ``obj.xs`` and ``obj.ys`` for the given action sequence (an exit
    can only be last). Movements that would hit the border are shortened; a move with less than
    3 frames of room becomes a jump."""
    r = obj.radius
    margin = r + 2
    spans = _plan_segments(rng, t, actions) if actions else []
    first = actions[0] if actions else 'still'
    if first in ('left', 'exit_right'):
        x0 = rng.uniform(width * 0.55, width - margin)
    elif first in ('right', 'exit_left'):
        x0 = rng.uniform(margin, width * 0.45)
    else:
        x0 = rng.uniform(margin, width - margin)
    xs = np.full(t, x0, dtype=np.float64)
    ys = np.full(t, lane_y, dtype=np.float64)
    x = x0
    cursor = 0
    for action, (s, e) in zip(actions, spans):
        xs[cursor:s] = x
        if action in MOVES:
            direction = -1 if action == 'left' else 1
            room = (x - margin) if direction < 0 else (width - margin - x)
            frames = min(e - s + 1, int(room // speed))
            if frames < 3:
                action = 'jump'
            else:
                e = s + frames - 1
                for k in range(s, e + 1):
                    x += direction * speed
                    xs[k] = x
        if action in EXITS:
            direction = -1 if action == 'exit_left' else 1
            dist = (x + r + 1) if direction < 0 else (width - x + r + 1)
            v = max(1.5 * speed, dist / max(1, t - s))
            k, last_visible = s, s
            while k < t:
                x += direction * v
                xs[k] = x
                if not _visible(obj.shape, x, ys[k], r, width, height):
                    break
                last_visible = k
                k += 1
            xs[min(k, t - 1):] = x
            # the moment ends with the last frame in which the object can be seen
            obj.segments.append(Segment(action, s, last_visible))
            cursor = t
            break
        if action == 'jump':
            amp = min(jump_amplitude(height, r), lane_y - r - 1)
            for k in range(s, e + 1):
                phase = (k - s + 1) / JUMP_PERIOD
                ys[k] = lane_y - amp * abs(np.sin(np.pi * phase))
            xs[s:e + 1] = x
        obj.segments.append(Segment(action, s, e))
        cursor = e + 1
    if cursor < t:
        xs[cursor:] = x
    obj.xs, obj.ys = xs, ys


# ---------------------------------------------------------------------------------- rendering
def shape_mask(shape: str, cx: float, cy: float, r: float, yy: np.ndarray, xx: np.ndarray
               ) -> np.ndarray:
    """bool mask of a filled shape centred at ``(cx, cy)`` with size ``r`` on the grid."""
    dx, dy = xx - cx, yy - cy
    if shape == 'circle':
        return dx * dx + dy * dy <= r * r
    if shape == 'square':
        s = r * 0.88
        return (np.abs(dx) <= s) & (np.abs(dy) <= s)
    if shape == 'diamond':
        return np.abs(dx) + np.abs(dy) <= r * 1.15
    if shape == 'triangle':
        top, bottom = -r, r * 0.85
        inside_y = (dy >= top) & (dy <= bottom)
        half_w = (dy - top) / (bottom - top) * r * 1.1
        return inside_y & (np.abs(dx) <= half_w)
    raise ValueError(f'unknown shape {shape!r}')


def render(scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 RGB ``(T, H, W, 3)`` and visible object masks bool ``(N, T, H, W)``
    (objects drawn in order; a later object hides an earlier one)."""
    t, h, w = scene.num_frames, scene.height, scene.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    masks = np.zeros((len(scene.objects), t, h, w), dtype=bool)
    noise = rng.normal(0, 3.0, size=(h, w, 1))
    base = np.clip(np.asarray(BACKGROUND, dtype=np.float64) + noise, 0, 255)
    for k in range(t):
        img = base.copy()
        for i, obj in enumerate(scene.objects):
            m = shape_mask(obj.shape, obj.xs[k], obj.ys[k], obj.radius, yy, xx)
            img[m] = COLORS[obj.color]
            masks[:i, k] &= ~m
            masks[i, k] = m
        frames[k] = img.astype(np.uint8)
    return frames, masks


# ---------------------------------------------------------------------------------- expressions
def _phrase(action: str, rng: np.random.Generator) -> str:
    options = {
        'left': ['moving left', 'moving to the left', 'sliding to the left'],
        'right': ['moving right', 'moving to the right', 'sliding to the right'],
        'jump': ['jumping', 'bouncing up and down', 'hopping'],
        'exit_left': ['leaving the frame on the left', 'running out of view to the left'],
        'exit_right': ['leaving the frame on the right', 'running out of view to the right'],
        'left_stop': ['moving left and then stopping', 'sliding left before it stops'],
        'right_stop': ['moving right and then stopping', 'sliding right before it stops'],
        'still': ['staying still the whole time', 'that never moves'],
    }[action]
    return options[int(rng.integers(len(options)))]


def _plural(shape: str) -> str:
    return shape + 'es' if shape.endswith('s') else shape + 's'


def _segments_matching(obj: SceneObject, key: str, t: int) -> list[list[int]]:
    """The object's moment for an expression key (empty if it never does it)."""
    spans = []
    segs = obj.segments
    for i, seg in enumerate(segs):
        # "moving left" also covers leaving on the left
        matches = seg.action in (key, f'exit_{key}') if key in MOVES else seg.action == key
        if matches:
            spans.append([seg.start, seg.end])
        elif key.endswith('_stop') and seg.action == key[:-5]:
            nxt = segs[i + 1].start if i + 1 < len(segs) else t
            if nxt - seg.end - 1 >= 3:      # at least 3 still frames after the move
                spans.append([seg.start, min(seg.end + 3, t - 1)])
    if key == 'still' and not segs:
        spans.append([0, t - 1])
    return spans


def make_expressions(scene: Scene, groups: list[list[SceneObject]], rng: np.random.Generator,
                     max_per_video: int) -> list[Expression]:
    """Every (group, action) pair that some group member performs gives one expression; the
    look-alike group's are kept first, then the distractors', up to ``max_per_video``."""
    out: list[Expression] = []
    keys = ('jump', 'left', 'right', 'exit_left', 'exit_right', 'left_stop', 'right_stop',
            'still')
    for gi, group in enumerate(groups):
        for key in keys:
            moments = {o.obj_id: _segments_matching(o, key, scene.num_frames) for o in group}
            moments = {k: v for k, v in moments.items() if v}
            if not moments:
                continue
            if key == 'still' and len(moments) == len(group):
                continue  # "the one that never moves" must single out somebody
            shape, color = group[0].shape, group[0].color
            noun = _plural(shape) if len(moments) > 1 else shape
            adjective = f'{color} ' if (gi > 0 or rng.random() < 0.3) else ''
            text = f'the {adjective}{noun} {_phrase(key, rng)}'
            out.append(Expression(text, sorted(moments), moments, key))
    return out[:max_per_video]


def make_scene(rng: np.random.Generator, width: int, height: int, num_frames: int,
               max_expressions: int = 6) -> Scene:
    """One synthetic video: look-alikes (+ a distractor group), motion scripts, expressions."""
    shapes = rng.permutation(SHAPES)
    colors = rng.permutation(list(COLORS))
    n_look = int(rng.integers(2, 4))
    n_distract = int(rng.choice([0, 1, 1, 2]))
    n_obj = n_look + n_distract
    radius = max(4.0, 0.075 * max(width, height))
    top, bottom = radius + jump_amplitude(height, radius) + 1, height - radius - 1
    lanes = np.linspace(top, bottom, n_obj) if n_obj > 1 else np.array([(top + bottom) / 2])
    lanes = lanes[rng.permutation(n_obj)]
    speed = max(1.5, max(width, height) / 40)
    single = ['left', 'right', 'jump', 'exit_left', 'exit_right']
    weights = np.array([0.27, 0.27, 0.3, 0.08, 0.08])
    # look-alikes get distinct primary actions; one of them may repeat the first one's action at
    # another time (a multi-object expression whose objects have different moments)
    primaries = [str(a) for a in rng.choice(single, size=n_look, replace=False, p=weights)]
    if rng.random() < 0.35:
        primaries[int(rng.integers(1, n_look))] = primaries[0]
    objects: list[SceneObject] = []
    groups: list[list[SceneObject]] = [[], []]
    for i in range(n_obj):
        look = i < n_look
        shape, color = (shapes[0], colors[0]) if look else (shapes[1], colors[1])
        obj = SceneObject(i, str(shape), str(color), radius)
        if look:
            acts = [] if rng.random() < 0.1 else [primaries[i]]   # 'never moves' now and then
        else:
            acts = [str(rng.choice(single, p=weights))]
        # a second action needs two 3-frame segments, a 3-frame pause and a lead-in frame
        if acts and acts[0] not in EXITS and num_frames >= MIN_FRAMES_TWO_ACTIONS \
                and rng.random() < 0.45:
            others = [a for a in single if a != acts[0]]
            w = np.array([weights[single.index(a)] for a in others])
            acts.append(str(rng.choice(others, p=w / w.sum())))
        simulate(rng, obj, acts, num_frames, width, height, float(lanes[i]), speed)
        objects.append(obj)
        groups[0 if look else 1].append(obj)
    scene = Scene(width, height, num_frames, objects, [])
    scene.expressions = make_expressions(scene, [g for g in groups if g], rng, max_expressions)
    return scene
