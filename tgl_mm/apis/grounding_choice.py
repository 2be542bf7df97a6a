"""Which grounding an inference call runs, checked against what the caller gave.

Shared by :func:`~tgl_mm.apis.streaming.segment_expressions` (so ``segment_video``,
``tools/infer.py`` and the app follow one rule):

- no grounding named: ``oracle`` when M+ spans are given; else the model's own TAM (``tam``)
  when it has one; else ``none``, with a warning that the model cannot ground itself
  (:func:`default_grounding`);
- spans given to a grounding that does not read them, or a grounding that reads spans without
  any, are errors, never silently ignored (:func:`check_spans_used`);
- moment-retrieval windows are in frames unless the call or the prediction file says seconds;
  seconds are converted with the video's frame rate, and fractional windows read as frames are
  an error rather than a guess (:func:`resolve_time_units`).

What a grounding reads comes from its class in the ``GROUNDINGS`` registry
(``BaseGrounding.reads_spans``, ``reads_windows``, ``needs_frame_scores``), never from a list of
names here; the model is asked through its inference interface
(:class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor`: ``has_tam``,
``grounding_cfg``).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tgl_mm.registry import GROUNDINGS

if TYPE_CHECKING:   # the interface, for annotations (importing it would import the models)
    from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

#: the units a prediction file's windows may be in
TIME_UNITS = ('frames', 'seconds')
#: how far from an integer a window bound in frames may be (float noise of a writer)
INTEGRAL_TOLERANCE = 1e-6

NO_TAM_WARNING = ('this model has no Temporal Alignment Module, so it cannot ground itself: '
                  'grounding "none" (every frame is M+). Train one with tools/train_tam.py, '
                  'or give M+ spans / a moment-retrieval file')


def grounding_name(grounding: str | dict | None) -> str | None:
    """The ``GROUNDINGS`` name of a grounding given as a name or a config dict."""
    if grounding is None or isinstance(grounding, str):
        return grounding
    return str(grounding.get('type'))


def grounding_flag(grounding: str | dict | None, flag: str) -> bool:
    """A class attribute (``reads_spans``, ``reads_windows``, ``needs_frame_scores``) of the
    registered grounding a name or config names; False for an unknown name."""
    name = grounding_name(grounding)
    cls = GROUNDINGS.get(name) if name else None
    return bool(getattr(cls, flag, False))


def sub_groundings(grounding: str | dict) -> list[tuple[str, dict]]:
    """``(key, config)`` of the grounding configs inside a config (a ``hybrid``'s ``span``)."""
    if not isinstance(grounding, dict):
        return []
    return [(key, value) for key, value in grounding.items()
            if isinstance(value, dict) and 'type' in value]


def reads_spans(grounding: str | dict) -> bool:
    """Whether the grounding reads the caller's M+ spans (``oracle``, or a grounding whose
    sub-grounding does, e.g. a ``hybrid`` whose span is ``oracle``)."""
    return grounding_flag(grounding, 'reads_spans') or \
        any(reads_spans(sub) for _, sub in sub_groundings(grounding))


def check_spans_used(grounding: str | dict, has_spans: bool,
                     spans_name: str = 'M+ spans') -> None:
    """Refuse spans a grounding would ignore, and a span-reading grounding without spans.

    Args:
        grounding: the grounding that will run (a name or a config).
        has_spans: whether the caller gave M+ spans.
        spans_name: what the spans are called where they were given (``--mplus``).

    Raises:
        ValueError: naming the grounding and the spans.
    """
    name = grounding_name(grounding)
    if has_spans and not reads_spans(grounding):
        raise ValueError(f'{spans_name} were given, but grounding {name!r} does not read them '
                         f'(only oracle, or a hybrid with an oracle span, does): drop the '
                         f'spans or use oracle grounding')
    if not has_spans and reads_spans(grounding):
        raise ValueError(f'grounding {name!r} takes M+ from the {spans_name} you give, and none '
                         f'were given: give {spans_name} (0-based frames, "a-b,c,d-"), or use '
                         'another grounding (none, tam, moment_retrieval)')


def default_grounding(model: StreamingSegmentor, has_spans: bool
                      ) -> tuple[str | dict, str | None]:
    """The grounding to run when none is named, and a warning (or None): the one place of
    this rule.

    ``oracle`` with spans; the model's own TAM without (its configured grounding when that
    grounds with the TAM (``needs_frame_scores``, e.g. ``tam`` with its mode), else ``tam`` with
    the defaults); ``none`` with :data:`NO_TAM_WARNING` for a model without a TAM.
    """
    if has_spans:
        return 'oracle', None
    if model.has_tam:
        configured = model.grounding_cfg
        if grounding_flag(configured, 'needs_frame_scores'):
            return configured, None
        return 'tam', None
    return 'none', NO_TAM_WARNING


# ------------------------------------------------------------------- time units of windows
def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, record)`` of the JSON lines of ``path`` that are JSON objects (the
    grounding itself reports malformed lines when it is built)."""
    try:
        text = path.read_text(encoding='utf-8')
    except UnicodeDecodeError as err:
        raise ValueError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start}); save the '
                         'prediction file as UTF-8') from None
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            yield line_no, record


def declared_unit(pred_file: str | os.PathLike) -> str | None:
    """The unit a moment-retrieval file declares for its windows: each line may carry
    ``"unit": "frames"`` or ``"unit": "seconds"``; lines that declare one must agree.

    Returns:
        the unit, or None when no line declares one.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown unit, or two units in one file (naming the lines).
    """
    path = Path(pred_file)
    if not path.is_file():
        raise FileNotFoundError(f'grounding prediction file not found: {path}')
    unit, first = None, 0
    for line_no, record in _records(path):
        if 'unit' not in record:
            continue
        value = record['unit']
        if value not in TIME_UNITS:
            raise ValueError(f'{path}:{line_no}: "unit" must be one of {list(TIME_UNITS)}, got '
                             f'{value!r}')
        if unit is not None and value != unit:
            raise ValueError(f'{path}:{line_no}: "unit" {value!r} differs from {unit!r} on line '
                             f'{first}: one unit per file')
        if unit is None:
            unit, first = value, line_no
    return unit


def fractional_window(pred_file: str | os.PathLike) -> str | None:
    """The first window of a moment-retrieval file whose start or end is not a whole number,
    described as ``file:line: query 'qid': window [s, e)``; None when every bound is whole."""
    path = Path(pred_file)
    for line_no, record in _records(path):
        windows = record.get('pred_relevant_windows')
        if not isinstance(windows, list):
            continue
        for window in windows:
            if not isinstance(window, list) or len(window) < 2:
                continue
            for bound in window[:2]:
                if isinstance(bound, (int, float)) and not isinstance(bound, bool) \
                        and math.isfinite(bound) \
                        and abs(bound - round(bound)) > INTEGRAL_TOLERANCE:
                    return (f'{path}:{line_no}: query {record.get("qid")!r}: window '
                            f'[{window[0]}, {window[1]})')
    return None


def _resolve_retrieval(config: dict, fps: float, fps_known: bool, where: str) -> dict:
    """A moment-retrieval config with its windows' unit settled (see
    :func:`resolve_time_units`)."""
    config = dict(config)
    given = config.pop('unit', None)
    if given is not None and given not in TIME_UNITS:
        raise ValueError(f'moment_retrieval unit must be one of {list(TIME_UNITS)}, got '
                         f'{given!r}')
    pred_file = config.get('pred_file')
    if not pred_file:
        raise ValueError('moment_retrieval grounding needs a prediction file (pred_file)')
    declared = declared_unit(pred_file)
    if given is not None and declared is not None and given != declared:
        raise ValueError(f'{pred_file} declares its windows in {declared}, but {given} was '
                         'asked for')
    unit = given or declared
    if config.get('fps') is not None:   # an explicit rate: the windows are in seconds
        if unit == 'frames':
            raise ValueError(f'{pred_file}: windows in frames, but an fps ({config["fps"]}) '
                             'to convert seconds was given')
        return config
    if unit == 'seconds':
        if not fps_known:
            raise ValueError(f'{pred_file} has windows in seconds, but {where} has no frame '
                             'rate of its own (a frame folder or arrays): give its fps')
        config['fps'] = float(fps)
        return config
    fractional = fractional_window(pred_file)
    if fractional is not None:
        raise ValueError(f'{fractional} is fractional, but windows are read as frame indices: '
                         'if the file is in seconds, say so ("unit": "seconds" on its lines, '
                         'or --pred-unit seconds) and they are converted with the video\'s '
                         f'frame rate ({fps:g} fps)')
    return config


def resolve_time_units(grounding: str | dict, fps: float, fps_known: bool = True,
                       where: str = 'the video') -> str | dict:
    """``grounding`` with every moment-retrieval window unit settled for a video of ``fps``.

    A ``moment_retrieval`` config (also as a ``hybrid``'s span) may carry ``unit``
    (``'frames'`` or ``'seconds'``); otherwise the file's declared unit (:func:`declared_unit`)
    applies, else frames. Seconds get ``fps`` (the video's; refused when ``fps_known`` is
    False); frames must be whole numbers (:func:`fractional_window`). Other groundings are
    returned as they are.

    Raises:
        ValueError: naming the file (and the line and query of a fractional window).
    """
    if not isinstance(grounding, dict):
        return grounding
    if grounding_flag(grounding, 'reads_windows'):
        return _resolve_retrieval(grounding, fps, fps_known, where)
    subs = sub_groundings(grounding)
    if subs:
        return dict(grounding, **{key: resolve_time_units(sub, fps, fps_known, where)
                                  for key, sub in subs})
    return grounding


__all__ = ['NO_TAM_WARNING', 'TIME_UNITS', 'grounding_name', 'grounding_flag', 'sub_groundings',
           'reads_spans', 'check_spans_used', 'default_grounding', 'declared_unit',
           'fractional_window', 'resolve_time_units']
