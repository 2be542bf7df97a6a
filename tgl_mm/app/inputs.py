"""The demo page's inputs turned into :func:`~tgl_mm.apis.video_outputs.infer_video` arguments.

Every problem raises :class:`AppInputError` (a ``ValueError``) whose message names the field of
the page, so the page can show it as it is.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

from tgl_mm.apis.grounding_choice import declared_unit
from tgl_mm.apis.video_io import VIDEO_EXTENSIONS
from tgl_mm.models.grounding import BaseGrounding, registered_groundings
from tgl_mm.registry import GROUNDINGS

#: the page's default: the model grounds itself (see :func:`grounding_config`)
AUTO = 'auto'


def required_arguments(cls: type) -> set[str]:
    """The constructor arguments of ``cls`` without a default."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in list(params)[1:] if p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def page_groundings() -> dict[str, type[BaseGrounding]]:
    """The registered groundings (:func:`~tgl_mm.models.grounding.registered_groundings`) the
    page can give what they read: nothing, the "M+ spans" box (``reads_spans``), or an
    uploaded file of windows (``reads_windows``, built with ``pred_file`` and ``top_k``)."""
    return {name: cls for name, cls in registered_groundings().items()
            if cls.reads_spans or not required_arguments(cls)
            or (cls.reads_windows and required_arguments(cls) <= {'pred_file'})}


#: the groundings the page offers (``auto``, then ``GROUNDINGS`` names), with what each does
GROUNDING_CHOICES: dict[str, str] = {
    AUTO: "the model's own TAM when it has one, else none (the status says which ran)",
    **{name: cls.describe() for name, cls in page_groundings().items()}}
#: the offered groundings that read the "M+ spans" box, and those that read the uploaded file
SPAN_GROUNDINGS = tuple(name for name, cls in page_groundings().items() if cls.reads_spans)
FILE_GROUNDINGS = tuple(name for name, cls in page_groundings().items() if cls.reads_windows)


class AppInputError(ValueError):
    """A field of the demo page is missing or malformed (the message names the field)."""


def parse_sentences(text: str | None) -> list[str]:
    """The "Sentences" box: one sentence per line, blank lines ignored, spaces collapsed.

    Raises:
        AppInputError: no sentence at all.
    """
    sentences = [' '.join(line.split()) for line in (text or '').splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise AppInputError('Sentences: type at least one sentence (one per line)')
    return sentences


def parse_span_lines(text: str | None, num_sentences: int) -> list[str]:
    """The "M+ spans" box (:data:`SPAN_GROUNDINGS`, e.g. ``oracle``): one line of ``a-b,c,d-``
    spans (0-based frames, inclusive; ``d-`` runs to the last frame, as
    ``tools/infer.py --mplus``) for every sentence, or one line per sentence in order.

    Raises:
        AppInputError: no line, or a line count that is neither 1 nor ``num_sentences``.
    """
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    if not lines:
        raise AppInputError(f'M+ spans: {" / ".join(SPAN_GROUNDINGS)} grounding needs spans '
                            'such as "3-12" (0-based frames, inclusive), one line for all '
                            'sentences or one per sentence')
    if len(lines) not in (1, num_sentences):
        raise AppInputError(f'M+ spans: {len(lines)} lines for {num_sentences} sentences; give '
                            'one line for all sentences or one per sentence')
    return lines


def check_video(path: str | os.PathLike | None) -> Path:
    """The uploaded (or example) video: it must exist and have a video suffix.

    Raises:
        AppInputError: nothing uploaded, or not a video file name.
    """
    if not path:
        raise AppInputError('Video: upload a video or pick an example first')
    path = Path(path)
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise AppInputError(f'Video: {path.name} is not a video file (one of '
                            f'{" ".join(VIDEO_EXTENSIONS)})')
    if not path.is_file():
        raise AppInputError(f'Video: {path.name} is gone from the server; upload it again')
    return path


def grounding_config(name: str, num_sentences: int, spans: str | None = None,
                     pred_file: str | os.PathLike | None = None,
                     top_k: int = 1) -> tuple[str | dict | None, list[str]]:
    """The grounding and the M+ span strings for :func:`infer_video`.

    Args:
        name: one of :data:`GROUNDING_CHOICES`.
        num_sentences: K.
        spans: the "M+ spans" box (:data:`SPAN_GROUNDINGS` only).
        pred_file: an uploaded moment-retrieval JSON-lines file (:data:`FILE_GROUNDINGS`,
            e.g. ``moment_retrieval``, only; qid ``video/<k>`` for sentence k, see
            docs/grounding.md).
        top_k: how many windows of each query to take (:data:`FILE_GROUNDINGS`).

    Returns:
        ``(grounding, mplus_specs)``; the grounding is None for ``auto`` (the streaming API then
        picks the model's TAM, else ``none`` with a warning).

    Raises:
        AppInputError: an unknown name, a missing/malformed span box or prediction file (the
            file's own error, naming its line and query, is kept in the message), or spans /
            a prediction file given to a grounding that would ignore them.
    """
    if name not in GROUNDING_CHOICES:
        raise AppInputError(f'Grounding: unknown {name!r} (one of {", ".join(GROUNDING_CHOICES)})')
    spans_by, file_by = ' / '.join(SPAN_GROUNDINGS), ' / '.join(FILE_GROUNDINGS)
    if name not in SPAN_GROUNDINGS and (spans or '').strip():
        raise AppInputError(f'M+ spans: only {spans_by} grounding reads them, and {name!r} is '
                            f'chosen: clear the box or choose {spans_by}')
    if name not in FILE_GROUNDINGS and pred_file:
        raise AppInputError(f'Prediction file: only {file_by} grounding reads it, and '
                            f'{name!r} is chosen: remove the file or choose {file_by}')
    if name in SPAN_GROUNDINGS:
        return name, parse_span_lines(spans, num_sentences)
    if name in FILE_GROUNDINGS:
        if not pred_file:
            raise AppInputError(f'Prediction file: {name} grounding needs an uploaded '
                                'JSON-lines file of {"qid": "video/<k>", "pred_relevant_windows"'
                                ': [[start, end, score], ...]}')
        config = dict(type=name, pred_file=str(pred_file), top_k=int(top_k))
        try:
            GROUNDINGS.build(config)  # validate now
            declared_unit(pred_file)
        except (ValueError, FileNotFoundError) as e:
            raise AppInputError(f'Prediction file: {e}') from None
        return config, []
    if name == AUTO:
        return None, []
    return name, []


__all__ = ['AUTO', 'GROUNDING_CHOICES', 'SPAN_GROUNDINGS', 'FILE_GROUNDINGS', 'page_groundings',
           'required_arguments', 'AppInputError', 'parse_sentences', 'parse_span_lines',
           'check_video', 'grounding_config']
