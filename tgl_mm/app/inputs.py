"""The demo page's inputs turned into :func:`~tgl_mm.apis.video_outputs.infer_video` arguments.

Every problem raises :class:`AppInputError` (a ``ValueError``) whose message names the field of
the page, so the page can show it as it is.
"""
from __future__ import annotations

import os
from pathlib import Path

from tgl_mm.apis.grounding_choice import declared_unit
from tgl_mm.apis.video_io import VIDEO_EXTENSIONS
from tgl_mm.models.grounding.prediction_files import MomentRetrievalGrounding

#: the page's default: the model grounds itself (see :func:`grounding_config`)
AUTO = 'auto'

#: the groundings the page offers (``GROUNDINGS`` names, and ``auto``), with what each needs
GROUNDING_CHOICES: dict[str, str] = {
    AUTO: "the model's own TAM when it has one, else none (the status says which ran)",
    'none': 'every frame is in M+ (no grounding)',
    'tam': "the model's Temporal Alignment Module picks M+ (needs a model trained with a TAM)",
    'oracle': 'M+ = the spans typed in "M+ spans"',
    'moment_retrieval': 'M+ = the best window(s) of each sentence in the uploaded prediction '
                        'file (frames, or seconds when its lines say "unit": "seconds")',
}


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
    """The "M+ spans" box for ``oracle``: one line of ``a-b,c,d-`` spans (0-based frames,
    inclusive; ``d-`` runs to the last frame, as ``tools/infer.py --mplus``) for every
    sentence, or one line per sentence in order.

    Raises:
        AppInputError: no line, or a line count that is neither 1 nor ``num_sentences``.
    """
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    if not lines:
        raise AppInputError('M+ spans: oracle grounding needs spans such as "3-12" (0-based '
                            'frames, inclusive), one line for all sentences or one per sentence')
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
        spans: the "M+ spans" box (``oracle`` only).
        pred_file: an uploaded moment-retrieval JSON-lines file (``moment_retrieval`` only;
            qid ``video/<k>`` for sentence k, see docs/grounding.md).
        top_k: how many windows of each query to take (``moment_retrieval``).

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
    if name != 'oracle' and (spans or '').strip():
        raise AppInputError(f'M+ spans: only oracle grounding reads them, and {name!r} is '
                            'chosen: clear the box or choose oracle')
    if name != 'moment_retrieval' and pred_file:
        raise AppInputError(f'Prediction file: only moment_retrieval grounding reads it, and '
                            f'{name!r} is chosen: remove the file or choose moment_retrieval')
    if name == 'oracle':
        return 'oracle', parse_span_lines(spans, num_sentences)
    if name == 'moment_retrieval':
        if not pred_file:
            raise AppInputError('Prediction file: moment_retrieval grounding needs an uploaded '
                                'JSON-lines file of {"qid": "video/<k>", "pred_relevant_windows"'
                                ': [[start, end, score], ...]}')
        try:
            MomentRetrievalGrounding(str(pred_file), top_k=int(top_k))  # validate now
            declared_unit(pred_file)
        except (ValueError, FileNotFoundError) as e:
            raise AppInputError(f'Prediction file: {e}') from None
        return dict(type='moment_retrieval', pred_file=str(pred_file), top_k=int(top_k)), []
    if name == AUTO:
        return None, []
    return name, []


__all__ = ['AUTO', 'GROUNDING_CHOICES', 'AppInputError', 'parse_sentences', 'parse_span_lines',
           'check_video', 'grounding_config']
