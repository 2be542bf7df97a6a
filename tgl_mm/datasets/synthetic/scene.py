"""Synthetic MeViS-M scenes in three expression families.

Every video shows simple shapes (a shape in a colour) on a noisy background, and every expression
belongs to one *family*, by what tells its referred objects apart:

* ``appearance`` -- the objects are named by what they always look like ("the red circle",
  "the two blue squares"); no other object of the video has that shape and colour. The moment is
  the frames in which the object is visible.
* ``event`` -- *the temporal grounding case*: 3-4 look-alikes (same shape and colour) drift
  slowly; the referred ones undergo a transient event that can be seen in a single frame (they
  turn another colour, flash, grow, get a ring). Outside the event an object is
  indistinguishable from its look-alikes; its moment is exactly its event frames (10-50 % of the
  video, early, middle or late). Mostly all look-alikes but one show the same event, each at its
  own time ("the two circles that flash": disjoint moments, 10-15 % of the video each).
* ``motion`` -- look-alikes that are still except for scripted actions (move left/right, jump,
  leave the frame); an expression ("the circle jumping", "the squares moving left and then
  stopping") refers to every look-alike that performs the action, and each object's moment is
  exactly the frames in which it performs it. Mostly all look-alikes but one share an action,
  each in its own window of the video ("the circles that stop", each at its own time). The
  hard tier: only *how* and *when* it moves tells the referred object apart -- every scripted
  object starts anywhere in the same central band whatever its actions (:func:`start_band`),
  and moves slowly enough never to reach the border (:func:`move_speed`).

A scene is of kind ``event`` (drifting look-alikes with events) or ``motion`` (scripted actions);
both may hold a distractor group of another shape and colour, named by an ``appearance``
expression. :func:`make_scene` builds a scene from a ``numpy`` generator and :func:`render` draws
it fully in memory (frames and per-object masks, events included); :func:`random_video` does both.

Long module: one scene model -- the object state, its scripted actions and events, and the
renderer that draws exactly that state -- whose parts change together whenever a family does.
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

FAMILIES = ('appearance', 'event', 'motion')
SCENE_KINDS = ('event', 'motion')
#: transient events of the ``event`` family (see :func:`appearance_at`)
EVENTS = ('color', 'flash', 'grow', 'ring')
#: radius factor of a ``grow`` event; event scenes keep this much room to the frame border
GROW_FACTOR = 1.45
#: share of white (black for light colours) mixed into the colour on the lit frames of a flash
FLASH_MIX = 0.6
#: largest vertical sway of a drifting object, as a fraction of its radius
SWAY = 0.12
#: moment position buckets of an event: centre as a fraction of the video
EVENT_POSITIONS = {'early': (0.1, 0.3), 'middle': (0.4, 0.6), 'late': (0.7, 0.9)}
#: event moment length as a fraction of the video (inclusive range)
EVENT_LENGTH = (0.1, 0.5)
#: length of an event that several look-alikes show each at its own time (inclusive range)
SHARED_EVENT_LENGTH = (0.1, 0.15)
#: chance that look-alikes share an event (or an action), each at its own time, when there are
#: enough of them to leave one out
SHARED_CHANCE = 0.8


@dataclass
class Segment:
    """Frames ``start..end`` (inclusive) during which the object performs ``action``."""

    action: str
    start: int
    end: int


@dataclass
class Event:
    """A transient change of appearance over frames ``start..end`` (inclusive).

    ``kind`` is one of :data:`EVENTS`; ``color`` is the colour a ``color`` event turns the
    object (a colour no object of the scene has).
    """

    kind: str
    start: int
    end: int
    color: str | None = None

    def active(self, k: int) -> bool:
        """Whether the event changes the object's look in frame ``k`` (a flash is bright on
        every other frame of its span, starting with the first)."""
        if not self.start <= k <= self.end:
            return False
        return self.kind != 'flash' or (k - self.start) % 2 == 0


@dataclass
class SceneObject:
    obj_id: int
    shape: str
    color: str
    radius: float
    segments: list[Segment] = field(default_factory=list)
    xs: np.ndarray | None = None   # (T,) centre x per frame
    ys: np.ndarray | None = None   # (T,) centre y per frame
    event: Event | None = None


@dataclass
class Expression:
    text: str
    obj_ids: list[int]
    moments: dict[int, list[list[int]]]   # obj_id -> inclusive spans
    #: motion: left/right/jump/exit_*/left_stop/right_stop/still; event: event_<kind>;
    #: appearance: 'appearance'
    action: str
    family: str = 'motion'


@dataclass
class Scene:
    width: int
    height: int
    num_frames: int
    objects: list[SceneObject]
    expressions: list[Expression]
    kind: str = 'motion'


# ---------------------------------------------------------------------------------- scripts
#: shortest video that fits two actions (see :func:`_plan_segments`)
MIN_FRAMES_TWO_ACTIONS = 11
#: length of a scripted action as a fraction of the video (inclusive range)
MOVE_LENGTH = (0.2, 0.45)
#: length of an action that several look-alikes perform each at its own time
SHARED_MOVE_LENGTH = (0.15, 0.25)
#: room kept between the start band and each border margin, as a fraction of the width
MOVE_ROOM = 0.25


def jump_amplitude(height: int, radius: float) -> float:
    """Peak height of a jump in pixels."""
    return 0.09 * height + 0.4 * radius


def _plan_segments(rng: np.random.Generator, t: int, actions: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans for ``actions`` in order, each 20-45 % of the video, separated by
    still gaps of at least 3 frames; none starts at frame 0 (a motion needs a frame before it
    to be visible)."""
    n = len(actions)
    lo, hi = max(3, round(MOVE_LENGTH[0] * t)), max(4, round(MOVE_LENGTH[1] * t))
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


def _plan_in_slot(rng: np.random.Generator, t: int, slot: tuple[int, int]) -> tuple[int, int]:
    """One action span inside the inclusive frame window ``slot``:
    :data:`SHARED_MOVE_LENGTH` of the video (at least 3 frames), shortened to fit the window."""
    a, b = slot
    if not 1 <= a <= b < t:
        raise ValueError(f'slot {slot} is not inside frames 1..{t - 1}')
    lo, hi = max(3, round(SHARED_MOVE_LENGTH[0] * t)), max(3, round(SHARED_MOVE_LENGTH[1] * t))
    length = min(int(rng.integers(lo, hi + 1)), b - a + 1)
    start = int(rng.integers(a, b - length + 2))
    return start, start + length - 1


def staggered_slots(t: int, k: int) -> list[tuple[int, int]]:
    """``k`` disjoint inclusive frame windows covering frames ``1..t-1`` in order, separated by
    one frame: where look-alikes sharing an action each perform it at their own time."""
    edges = np.linspace(1, t, k + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1]) - 1 - (i < k - 1)) for i in range(k)]


def _visible(shape: str, cx: float, cy: float, r: float, width: int, height: int) -> bool:
    """Whether any pixel of the (unoccluded) shape lies inside the frame."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    return bool(shape_mask(shape, cx, cy, r, yy, xx).any())


def start_band(width: int, radius: float) -> tuple[float, float]:
    """Where a scripted object may start (centre x): the same band for every object whatever
    its actions, :data:`MOVE_ROOM` of the width away from the border margins, so that a move in
    either direction fits from any start (the start position tells nothing about the motion)."""
    margin = radius + 2
    room = MOVE_ROOM * width
    return margin + room, width - margin - room


def move_speed(width: int, radius: float, num_frames: int, speed: float) -> float:
    """Pixels per frame of a scripted move in a video of ``num_frames``: at most ``speed``, and
    slow enough that the longest move (:func:`_plan_segments`) from anywhere in
    :func:`start_band` stays inside the frame; the same for every object of the video."""
    longest = max(4, round(MOVE_LENGTH[1] * num_frames))
    return min(speed, MOVE_ROOM * width / longest)


def simulate(rng: np.random.Generator, obj: SceneObject, actions: list[str], t: int,
             width: int, height: int, lane_y: float, speed: float,
             spans: list[tuple[int, int]] | None = None) -> None:
    """Fill ``obj.segments``, ``obj.xs`` and ``obj.ys`` for the given action sequence (an exit
    can only be last; ``spans``: their frames, default :func:`_plan_segments`).

    The start x is drawn uniformly from :func:`start_band`, independently of the actions, and a
    move runs at :func:`move_speed`, so it never reaches the border (whichever action comes
    first; a second move goes the other way or follows a jump). A move that would still have
    less than 3 frames of room becomes a jump."""
    r = obj.radius
    margin = r + 2
    if spans is None:
        spans = _plan_segments(rng, t, actions) if actions else []
    if len(spans) != len(actions):
        raise ValueError(f'{len(actions)} actions but {len(spans)} spans (object {obj.obj_id})')
    lo, hi = start_band(width, r)
    x0 = rng.uniform(lo, hi)
    speed = move_speed(width, r, t, speed)
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


def ring_color(color: str) -> tuple[int, int, int]:
    """Colour of the outline drawn by a ``ring`` event: white, or black on light shapes."""
    return (0, 0, 0) if color in ('white', 'yellow') else (255, 255, 255)


def flash_color(rgb: tuple[float, ...]) -> tuple[float, ...]:
    """The colour on the lit frames of a flash: mixed with white, or -- for light colours, which
    white would hardly change -- with black."""
    target = 0.0 if sum(rgb) / 3 > 200 else 255.0
    return tuple((1 - FLASH_MIX) * c + FLASH_MIX * target for c in rgb)


def appearance_at(obj: SceneObject, k: int
                  ) -> tuple[tuple[float, float, float], float, tuple[int, int, int] | None]:
    """How ``obj`` looks in frame ``k``: fill colour, radius and outline colour (``None``: no
    outline), its event applied."""
    rgb = tuple(float(c) for c in COLORS[obj.color])
    radius, ring = obj.radius, None
    ev = obj.event
    if ev is not None and ev.active(k):
        if ev.kind == 'color':
            rgb = tuple(float(c) for c in COLORS[ev.color])
        elif ev.kind == 'flash':
            rgb = flash_color(rgb)
        elif ev.kind == 'grow':
            radius = obj.radius * GROW_FACTOR
        elif ev.kind == 'ring':
            ring = ring_color(obj.color)
        else:
            raise ValueError(f'unknown event kind {ev.kind!r} (object {obj.obj_id})')
    return rgb, radius, ring


def render(scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 RGB ``(T, H, W, 3)`` and visible object masks bool ``(N, T, H, W)``
    (objects drawn in order, events included; a later object hides an earlier one). Nothing is
    written to disk; ``rng`` only draws the background noise."""
    t, h, w = scene.num_frames, scene.height, scene.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    masks = np.zeros((len(scene.objects), t, h, w), dtype=bool)
    noise = rng.normal(0, 3.0, size=(h, w, 1))
    base = np.clip(np.asarray(BACKGROUND, dtype=np.float64) + noise, 0, 255)
    for k in range(t):
        img = base.copy()
        for i, obj in enumerate(scene.objects):
            rgb, radius, ring = appearance_at(obj, k)
            m = shape_mask(obj.shape, obj.xs[k], obj.ys[k], radius, yy, xx)
            img[m] = rgb
            if ring is not None:
                inner = shape_mask(obj.shape, obj.xs[k], obj.ys[k],
                                   radius - max(1.5, 0.3 * radius), yy, xx)
                img[m & ~inner] = ring
            masks[:i, k] &= ~m
            masks[i, k] = m
        frames[k] = np.round(img).astype(np.uint8)
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
    """``motion`` expressions: every (group, action) pair that some member of a look-alike group
    (two or more objects of the same shape and colour) performs gives one expression, up to
    ``max_per_video``: those about several objects first, then the first group's first."""
    out: list[Expression] = []
    keys = ('jump', 'left', 'right', 'exit_left', 'exit_right', 'left_stop', 'right_stop',
            'still')
    for gi, group in enumerate(groups):
        if len(group) < 2:
            continue   # a lone object is named by its appearance (see appearance_expressions)
        for key in keys:
            moments = {o.obj_id: _segments_matching(o, key, scene.num_frames) for o in group}
            moments = {k: v for k, v in moments.items() if v}
            if not moments:
                continue
            if key == 'still' and len(moments) == len(group):
                continue  # "the one that never moves" must single out somebody
            shape, color = group[0].shape, group[0].color
            many = len(moments) > 1
            noun = _plural(shape) if many else shape
            adjective = f'{color} ' if (gi > 0 or rng.random() < 0.3) else ''
            lead = f'the {_NUMBERS[len(moments)]}' if many and rng.random() < 0.4 else 'the'
            text = f'{lead} {adjective}{noun} {_phrase(key, rng)}'
            out.append(Expression(text, sorted(moments), moments, key, 'motion'))
    out.sort(key=lambda e: len(e.obj_ids) < 2)     # stable: multi-object expressions first
    return out[:max_per_video]


_NUMBERS = {2: 'two', 3: 'three', 4: 'four'}


def visible_spans(obj: SceneObject, width: int, height: int) -> list[list[int]]:
    """Inclusive spans of the frames in which any pixel of the object (as drawn, events
    included, occlusion ignored) lies inside the frame."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    seen = np.array([shape_mask(obj.shape, obj.xs[k], obj.ys[k], appearance_at(obj, k)[1],
                                yy, xx).any() for k in range(len(obj.xs))])
    return _spans(seen)


def _spans(flags: np.ndarray) -> list[list[int]]:
    """Inclusive ``[start, end]`` runs of True in a 1-D bool array."""
    spans, start = [], None
    for k, f in enumerate(flags.tolist() + [False]):
        if f and start is None:
            start = k
        elif not f and start is not None:
            spans.append([start, k - 1])
            start = None
    return spans


def appearance_expression(scene: Scene, group: list[SceneObject],
                          rng: np.random.Generator) -> Expression | None:
    """"the red circle" / "the two blue squares": every object of a shape and colour that no
    other object of the scene has; moment = the frames in which each is visible."""
    shape, color = group[0].shape, group[0].color
    if any((o.shape, o.color) == (shape, color) for o in scene.objects if o not in group):
        raise ValueError(f'group {shape}/{color} is not every object of its look')
    moments = {o.obj_id: visible_spans(o, scene.width, scene.height) for o in group}
    moments = {k: v for k, v in moments.items() if v}
    if not moments:
        return None
    if len(group) == 1:
        text = f'the {color} {shape}' if rng.random() < 0.7 else f'the only {color} {shape}'
    else:
        lead = f'the {_NUMBERS[len(group)]}' if rng.random() < 0.6 else str(
            rng.choice(['the', 'all the']))
        text = f'{lead} {color} {_plural(shape)}'
    return Expression(text, sorted(moments), moments, 'appearance',
                      'appearance')


_EVENT_PHRASES = {   # kind -> [(singular, plural)]; {c}: the colour a colour event turns to
    'color': [('that turns {c}', 'that turn {c}'), ('turning {c}', 'turning {c}'),
              ('that briefly becomes {c}', 'that briefly become {c}')],
    'flash': [('flashing', 'flashing'), ('that blinks', 'that blink'),
              ('that lights up', 'that light up')],
    'grow': [('that grows', 'that grow'), ('getting bigger', 'getting bigger'),
             ('that swells up', 'that swell up')],
    'ring': [('with a ring', 'with rings'), ('that gets an outline', 'that get outlines'),
             ('showing a ring', 'showing rings')],
}


def event_expression(group: list[SceneObject], kind: str, color: str | None,
                     rng: np.random.Generator) -> Expression:
    """"the square that turns red", "the two circles that flash": the members of a look-alike
    group showing the event ``(kind, color)``; each object's moment is exactly its event frames
    (look-alikes sharing an event show it each at its own time)."""
    referred = [o for o in group if o.event is not None
                and (o.event.kind, o.event.color) == (kind, color)]
    if not referred:
        raise ValueError(f'no object of the group shows the event {kind!r}')
    moments = {o.obj_id: [[o.event.start, o.event.end]] for o in referred}
    singular, plural = _EVENT_PHRASES[kind][int(rng.integers(len(_EVENT_PHRASES[kind])))]
    many = len(referred) > 1
    noun = _plural(group[0].shape) if many else group[0].shape
    adjective = f'{group[0].color} ' if rng.random() < 0.3 else ''
    lead = f'the {_NUMBERS[len(referred)]}' if many and rng.random() < 0.5 else 'the'
    phrase = (plural if many else singular).format(c=color)
    return Expression(f'{lead} {adjective}{noun} {phrase}', sorted(moments), moments,
                      f'event_{kind}', 'event')


def event_span(rng: np.random.Generator, t: int, kind: str,
               length_range: tuple[float, float] = EVENT_LENGTH,
               position: str | None = None) -> tuple[int, int]:
    """An event's inclusive frame span: length ``length_range`` of ``t`` (default 10-50 %; a
    flash: odd, so it starts and ends bright when it can), centred early, in the middle or late
    (``position``, one of :data:`EVENT_POSITIONS`; ``None``: drawn)."""
    lo = max(1, int(np.ceil(length_range[0] * t)))
    hi = max(lo, int(np.floor(length_range[1] * t)))
    length = int(rng.integers(lo, hi + 1))
    if kind == 'flash' and length % 2 == 0:
        length = length + 1 if length + 1 <= hi else max(1, length - 1)
    if position is None:
        position = str(rng.choice(list(EVENT_POSITIONS)))
    c_lo, c_hi = EVENT_POSITIONS[position]
    centre = rng.uniform(c_lo, c_hi) * t
    start = int(np.clip(round(centre - length / 2), 0, t - length))
    return start, start + length - 1


def staggered_event_spans(rng: np.random.Generator, t: int, kind: str, k: int
                          ) -> list[tuple[int, int]]:
    """Spans of one event shown by ``k`` (2 or 3) look-alikes each at its own time: at ``k``
    distinct positions (:data:`EVENT_POSITIONS`, in a random order), each
    :data:`SHARED_EVENT_LENGTH` of the video long, pairwise disjoint (at least one frame
    apart)."""
    if not 2 <= k <= len(EVENT_POSITIONS):
        raise ValueError(f'k must be 2..{len(EVENT_POSITIONS)}, got {k}')
    for _ in range(100):
        positions = [str(p) for p in rng.choice(list(EVENT_POSITIONS), size=k, replace=False)]
        spans = [event_span(rng, t, kind, SHARED_EVENT_LENGTH, p) for p in positions]
        ordered = sorted(spans)
        if all(b[0] > a[1] + 1 for a, b in zip(ordered, ordered[1:])):
            return spans
    # a video too short for the draws: equal windows, each event at the start of its own
    windows = np.linspace(0, t, k + 1).round().astype(int)
    length = max(1, min(int(np.ceil(SHARED_EVENT_LENGTH[0] * t)),
                        int(np.diff(windows).min()) - 1))
    spans = [(int(a), int(a) + length - 1) for a in windows[:-1]]
    return [spans[i] for i in rng.permutation(k)]


def drift(rng: np.random.Generator, obj: SceneObject, t: int, width: int, lane_y: float,
          speed: float, margin: float) -> None:
    """Slow smooth motion: a constant horizontal velocity reflected at the borders (kept
    ``margin`` px inside the frame) and a small vertical sway around ``lane_y``."""
    lo, hi = margin, width - margin
    span = max(hi - lo, 1e-6)
    v = rng.uniform(0.15, 0.45) * speed * rng.choice([-1.0, 1.0])
    u = (rng.uniform(lo, hi) - lo + v * np.arange(t)) % (2 * span)
    obj.xs = lo + np.where(u <= span, u, 2 * span - u)
    amp, period = rng.uniform(0, SWAY * obj.radius), rng.uniform(12, 30)
    obj.ys = lane_y + amp * np.sin(2 * np.pi * np.arange(t) / period + rng.uniform(0, 2 * np.pi))


def _lanes(rng: np.random.Generator, n: int, top: float, bottom: float) -> np.ndarray:
    lanes = np.linspace(top, bottom, n) if n > 1 else np.array([(top + bottom) / 2])
    return lanes[rng.permutation(n)]


def make_event_scene(rng: np.random.Generator, width: int, height: int, num_frames: int,
                     max_expressions: int = 6) -> Scene:
    """Drifting objects: distractor groups (named by appearance) drawn first, then 2-4
    look-alikes. Of 3-4 look-alikes, mostly (:data:`SHARED_CHANCE`) all but one show the same
    event, each at its own time (one ``event`` expression about 2-3 objects whose moments are
    disjoint); otherwise one to three of them show different events (``event`` expressions about
    disjoint objects). Now and then the look-alikes are also named together by their
    appearance."""
    shapes = rng.permutation(SHAPES)
    colors = [str(c) for c in rng.permutation(list(COLORS))]
    n_look = int(rng.choice([3, 4, 4]))
    sizes = [[], [1], [1], [2], [1, 1]][int(rng.integers(5))]
    while n_look + sum(sizes) > 4:     # at most 4 objects
        sizes = sizes[:-1] if len(sizes) > 1 or sizes[0] == 1 else [1]
    radius = max(4.0, 0.075 * max(width, height))
    margin = radius * GROW_FACTOR + 1
    n_obj = n_look + sum(sizes)
    sway = SWAY * radius
    lanes = _lanes(rng, n_obj, margin + sway, height - margin - sway)
    speed = max(1.5, max(width, height) / 40)
    looks = [(str(shapes[g + 1]), colors[g + 1], n) for g, n in enumerate(sizes)]
    looks.append((str(shapes[0]), colors[0], n_look))
    objects: list[SceneObject] = []
    groups: list[list[SceneObject]] = []
    for shape, color, n in looks:
        groups.append([])
        for _ in range(n):
            obj = SceneObject(len(objects), shape, color, radius)
            drift(rng, obj, num_frames, width, float(lanes[obj.obj_id]), speed, margin)
            objects.append(obj)
            groups[-1].append(obj)
    look_alikes = groups[-1]
    free_colors = [c for c in colors if c not in {o.color for o in objects}]
    kinds = [str(k) for k in rng.permutation(EVENTS)]
    events: list[tuple[str, str | None]] = [(kinds[0], free_colors[0])]
    order = [int(i) for i in rng.permutation(n_look)]
    r = rng.random()
    if n_look >= 3 and r < SHARED_CHANCE:
        # all look-alikes but one show the same event, each at its own time
        holders = [[look_alikes[i] for i in order[:n_look - 1]]]
        spans = staggered_event_spans(rng, num_frames, kinds[0], n_look - 1)
        if rng.random() < 0.5:   # the last one shows another event: a disjoint expression
            events.append((kinds[1], free_colors[1]))
            holders.append([look_alikes[order[-1]]])
            spans.append(event_span(rng, num_frames, kinds[1]))
    else:   # more look-alikes show other events: disjoint event expressions
        holders = [[look_alikes[order[0]]]]
        u = rng.random()
        extra = int(u < 0.75) + int(n_look >= 3 and u < 0.4)
        for j in range(1, 1 + extra):
            events.append((kinds[j], free_colors[j]))
            holders.append([look_alikes[order[j]]])
        spans = [event_span(rng, num_frames, kind) for kind, _ in events]
    spans_iter = iter(spans)
    for (kind, color), objs in zip(events, holders):
        for obj in objs:
            start, end = next(spans_iter)
            obj.event = Event(kind, start, end, color if kind == 'color' else None)
    scene = Scene(width, height, num_frames, objects, [], kind='event')
    exps = [event_expression(look_alikes, kind, color if kind == 'color' else None, rng)
            for kind, color in events]
    named = [g for g in groups[:-1]] + ([look_alikes] if rng.random() < 0.3 else [])
    exps += [e for e in (appearance_expression(scene, g, rng) for g in named) if e]
    scene.expressions = exps[:max_expressions]
    return scene


def make_motion_scene(rng: np.random.Generator, width: int, height: int, num_frames: int,
                      max_expressions: int = 6) -> Scene:
    """Look-alikes (+ a distractor group) that are still except for scripted actions:
    ``motion`` expressions for groups of look-alikes, ``appearance`` ones for the distractors
    (and now and then for the look-alikes as a whole).

    Of 3-4 look-alikes, mostly (:data:`SHARED_CHANCE`) all but one perform the same action,
    each at its own time (in disjoint windows, :func:`staggered_slots`): "the circles moving
    left" refers to them all, with different moments. Otherwise look-alikes get distinct primary
    actions, one of which may be repeated at another time. Objects start anywhere in
    :func:`start_band`, whatever they will do."""
    shapes = rng.permutation(SHAPES)
    colors = rng.permutation(list(COLORS))
    n_look = int(rng.choice([2, 3, 4, 4]))
    n_distract = min(int(rng.choice([0, 1, 1, 2])), 5 - n_look)
    n_obj = n_look + n_distract
    radius = max(4.0, 0.075 * max(width, height))
    top, bottom = radius + jump_amplitude(height, radius) + 1, height - radius - 1
    lanes = _lanes(rng, n_obj, top, bottom)
    speed = max(1.5, max(width, height) / 40)
    single = ['left', 'right', 'jump', 'exit_left', 'exit_right']
    weights = np.array([0.27, 0.27, 0.3, 0.08, 0.08])
    # look-alikes get distinct primary actions (or share one, see above)
    primaries = [str(a) for a in rng.choice(single, size=n_look, replace=False, p=weights)]
    # look-alikes sharing an action each perform it in their own window: all but one of 3-4
    # look-alikes (mostly), else now and then two of them
    if n_look >= 3 and rng.random() < SHARED_CHANCE:
        n_shared = n_look - 1
    else:
        n_shared = 2 if rng.random() < 0.35 else 0
    while n_shared >= 2 and min(b - a + 1 for a, b in staggered_slots(num_frames, n_shared)) < 3:
        n_shared -= 1                  # too short a video for that many windows
    shared: dict[int, tuple[int, int]] = {}      # look-alike index -> its window
    shared_action = None
    if n_shared >= 2:
        slots = staggered_slots(num_frames, n_shared)
        holders = [int(i) for i in rng.permutation(n_look)[:n_shared]]
        shared_action = primaries[holders[0]]
        for slot, i in zip(slots, holders):
            shared[i] = slot
            primaries[i] = shared_action
    objects: list[SceneObject] = []
    groups: list[list[SceneObject]] = [[], []]
    for i in range(n_obj):
        look = i < n_look
        shape, color = (shapes[0], colors[0]) if look else (shapes[1], colors[1])
        obj = SceneObject(i, str(shape), str(color), radius)
        spans = None
        if i in shared:
            acts = [primaries[i]]
            spans = [_plan_in_slot(rng, num_frames, shared[i])]
        elif look:
            acts = [] if rng.random() < 0.1 else [primaries[i]]   # 'never moves' now and then
        else:
            acts = [str(rng.choice(single, p=weights))]
        # a second action needs two 3-frame segments, a 3-frame pause and a lead-in frame
        if spans is None and acts and acts[0] not in EXITS \
                and num_frames >= MIN_FRAMES_TWO_ACTIONS and rng.random() < 0.45:
            others = [a for a in single if a not in (acts[0], shared_action)]
            w = np.array([weights[single.index(a)] for a in others])
            acts.append(str(rng.choice(others, p=w / w.sum())))
        simulate(rng, obj, acts, num_frames, width, height, float(lanes[i]), speed, spans)
        objects.append(obj)
        groups[0 if look else 1].append(obj)
    groups = [g for g in groups if g]
    scene = Scene(width, height, num_frames, objects, [], kind='motion')
    exps = make_expressions(scene, groups, rng, min(3, max_expressions))
    named = groups[1:] + ([groups[0]] if rng.random() < 0.2 else [])
    exps += [e for e in (appearance_expression(scene, g, rng) for g in named) if e]
    scene.expressions = exps[:max_expressions]
    return scene


def make_scene(rng: np.random.Generator, width: int, height: int, num_frames: int,
               max_expressions: int = 6, kind: str | None = None) -> Scene:
    """One synthetic video of ``kind`` (one of :data:`SCENE_KINDS`; ``None``: drawn from
    ``rng``, event scenes a little more often) with its expressions."""
    if kind is None:
        kind = 'event' if rng.random() < 0.55 else 'motion'
    if kind == 'event':
        return make_event_scene(rng, width, height, num_frames, max_expressions)
    if kind == 'motion':
        return make_motion_scene(rng, width, height, num_frames, max_expressions)
    raise ValueError(f'unknown scene kind {kind!r} (expected one of {SCENE_KINDS})')


def random_video(rng: np.random.Generator, width: int, height: int, num_frames: int,
                 kind: str | None = None) -> tuple[Scene, np.ndarray, np.ndarray]:
    """A random scene rendered in memory: ``(scene, frames uint8 (T, H, W, 3), masks bool
    (N, T, H, W))`` -- e.g. for class-agnostic tracking pretraining; nothing is written."""
    scene = make_scene(rng, width, height, num_frames, kind=kind)
    frames, masks = render(scene, rng)
    return scene, frames, masks
