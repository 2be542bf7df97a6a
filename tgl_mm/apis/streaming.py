"""Streaming inference of several sentences on one video with flat memory.

:func:`segment_expressions` decodes the video once into a compact spill file
(:class:`~tgl_mm.apis.video_io.FrameSpill`), then runs the model's
:meth:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor.predict_expressions`:
frames are loaded and normalised chunk by chunk when the encoders need them, the sentences move
through the video side by side sharing their sentence-independent encoder work, and every mask
goes to a callback as soon as it exists. Memory does not grow with the video length.

The model is used only through the
:class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor` interface, and the
request's grounding is passed with the call: the model is never changed, so requests with
different groundings may share it, at the same time too.
"""
from __future__ import annotations

import os
import time
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from tgl_mm.apis.grounding_choice import (
    check_spans_used,
    default_grounding,
    grounding_name,
    resolve_time_units,
)
from tgl_mm.apis.video_io import FrameSource, FrameSpill, open_frames
from tgl_mm.structures import VideoDataSample

if TYPE_CHECKING:   # the interface, for annotations (importing it would import the models)
    from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

#: ``on_mask(k, t, mask)``: sentence k's mask of frame t, bool (H, W) at the video's size
MaskSink = Callable[[int, int, np.ndarray], None]
#: called once per decoded frame and once per mask; raising stops the run (e.g. a time limit)
ProgressCheck = Callable[[], None]


@dataclass
class VideoRun:
    """What :func:`segment_expressions` learnt about a video and its K sentences.

    Attributes:
        num_frames: T.
        fps: the video's frame rate.
        ori_shape: (H, W).
        frame_names: names of the T frames.
        mplus: K bool (T,) arrays: frames the grounding put in M+.
        object_scores: K float (T,) arrays of SAM2 object-score logits (<= 0: absent).
        frame_scores: K float (T,) arrays of grounding relevance (TAM logits), or Nones.
        counts: encoder work: ``trunk_frames`` (image-encoder passes), ``raw_frames``.
        timings: seconds: ``decode`` (decode + resize + spill), ``segment``.
        grounding: the name of the grounding that ran (``oracle``, ``tam``, ``none``, ...).
        warnings: what the caller should know about the run (long sentences cut, no TAM to
            ground with), also issued as ``UserWarning``.
    """

    num_frames: int
    fps: float
    ori_shape: tuple[int, int]
    frame_names: list[str]
    mplus: list[np.ndarray] = field(default_factory=list)
    object_scores: list[np.ndarray] = field(default_factory=list)
    frame_scores: list[np.ndarray | None] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    grounding: str = ''
    warnings: list[str] = field(default_factory=list)


def has_visible_character(text: str) -> bool:
    """Whether ``text`` shows anything: a character that is neither a separator (spaces)
    nor a control or format character (zero-width spaces and joiners, byte-order marks)."""
    return any(unicodedata.category(c)[0] not in 'CZ' for c in text)


def clean_texts(texts: Sequence[str]) -> list[str]:
    """Sentences with whitespace collapsed; an empty one, or one of only invisible
    characters (e.g. zero-width spaces), raises ``ValueError`` naming it."""
    if isinstance(texts, str):
        raise TypeError('texts must be a list of sentences, got one string')
    out = []
    for k, text in enumerate(texts):
        text = ' '.join(str(text).split())
        if not text:
            raise ValueError(f'sentence {k} is empty: every sentence needs words '
                             '(segment_video needs a non-empty sentence)')
        if not has_visible_character(text):
            raise ValueError(f'sentence {k} {text!r} has no visible character (only spaces or '
                             'invisible characters such as zero-width spaces): every sentence '
                             'needs words')
        out.append(text)
    if not out:
        raise ValueError('no sentence given')
    return out


def long_sentence_warnings(reader: object, texts: Sequence[str]) -> list[str]:
    """One message per sentence longer than the text encoder reads (its ``max_length``
    tokens, special tokens included), with the token counts and the part it keeps.

    ``reader``: a :class:`StreamingSegmentor` or a text encoder, anything with
    ``truncated_sentence(text)`` (see
    :meth:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor.truncated_sentence`);
    without it nothing is checked.
    """
    truncated = getattr(reader, 'truncated_sentence', None)
    if truncated is None:
        return []
    out = []
    for k, text in enumerate(texts):
        cut = truncated(text)
        if cut is None:
            continue
        count, limit, kept = cut
        out.append(f'sentence {k} has {count} tokens; the text encoder reads {limit} of them '
                   f'(special tokens included) and ignores the rest: it keeps {kept!r}')
    return out


def choose_grounding(model: StreamingSegmentor, grounding: str | dict | None, has_spans: bool,
                     spans_name: str = 'M+ spans') -> tuple[str | dict, list[str]]:
    """The grounding a call runs and its warnings: the one named, else
    :func:`~tgl_mm.apis.grounding_choice.default_grounding`; spans it would ignore, or none
    for a grounding that reads them, are refused (``ValueError``)."""
    messages = []
    if grounding is None:
        grounding, warning = default_grounding(model, has_spans)
        if warning:
            messages.append(warning)
    check_spans_used(grounding, has_spans, spans_name)
    return grounding, messages


def user_video_fields(frame_names: Sequence[str], text: str, exp_id: str,
                      ori_shape: tuple[int, int]) -> dict:
    """The metainfo every inference sample of a user's video carries (one sentence)."""
    num = len(frame_names)
    return dict(video_id='video', exp_id=exp_id, text=text, dataset_name='user',
                split='inference', frame_names=list(frame_names), frame_inds=list(range(num)),
                num_video_frames=num, obj_ids=[], ori_shape=tuple(ori_shape))


def mplus_flags(mplus: Sequence[bool] | np.ndarray, num: int) -> np.ndarray:
    """Given M+ flags as bool ``(num,)``; another shape raises, naming both."""
    flags = np.asarray(mplus, dtype=bool)
    if flags.shape != (num,):
        raise ValueError(f'mplus must have one flag per frame ({num}), got {flags.shape}')
    return flags


def make_sample(spill: FrameSpill, text: str, exp_id: str,
                mplus: Sequence[bool] | np.ndarray | None = None) -> VideoDataSample:
    """A test sample (metainfo only: the frames stay in ``spill``); with ``mplus`` given it
    carries ``gt_mplus`` (what ``oracle`` grounding reads)."""
    meta = dict(user_video_fields(spill.frame_names, text, exp_id, spill.ori_shape),
                img_shape=tuple(spill.img_shape), pad_shape=(spill.size, spill.size),
                scale_factor=(1.0, 1.0), flip=False)
    sample = VideoDataSample(metainfo=meta)
    if mplus is not None:
        sample.gt_mplus = torch.from_numpy(mplus_flags(mplus, spill.num_frames))
        sample.set_metainfo(dict(has_moments=True))
    return sample


@torch.no_grad()
def segment_expressions(model: StreamingSegmentor,
                        source: str | os.PathLike | Sequence[np.ndarray] | FrameSource,
                        texts: Sequence[str], on_mask: MaskSink,
                        grounding: str | dict | None = None,
                        mplus: Sequence[Sequence[bool] | np.ndarray | None] | None = None,
                        tmp_dir: str | os.PathLike | None = None,
                        progress: bool = False,
                        check: ProgressCheck | None = None) -> VideoRun:
    """Segment K sentences on one video, streaming (see the module docstring).

    Args:
        model: a :class:`StreamingSegmentor` (e.g. a ``TGLSAM2`` from
            :func:`~tgl_mm.apis.init_model`); it is not changed.
        source: a video file, a frame folder, RGB arrays, or a :class:`FrameSource`.
        texts: the K sentences.
        on_mask: :data:`MaskSink`, called in processing order (not temporal order).
        grounding: a ``GROUNDINGS`` name or config; default: ``'oracle'`` when ``mplus`` is
            given, else the model's TAM (``'tam'``) when it has one, else ``'none'`` with a
            warning (:func:`~tgl_mm.apis.grounding_choice.default_grounding`). ``mplus`` with a
            grounding that does not read it is an error. Moment-retrieval windows follow
            :func:`~tgl_mm.apis.grounding_choice.resolve_time_units` with the video's fps.
            The grounding is this call's alone (the model's own is left as it is); one the
            model cannot run (``tam`` without a TAM) is refused before the video is decoded.
        mplus: per sentence, M+ flags (T,) or None (for ``oracle`` grounding).
        tmp_dir: where the spill file goes (default: the system's temporary folder).
        progress: show progress bars (frames/s).
        check: called once per decoded frame and per mask; what it raises ends the run.

    Returns:
        :class:`VideoRun`.
    """
    from tqdm import tqdm

    texts = clean_texts(texts)
    flags = list(mplus) if mplus is not None else [None] * len(texts)
    if len(flags) != len(texts):
        raise ValueError(f'{len(flags)} M+ flag lists for {len(texts)} sentences')
    source = open_frames(source)     # what the caller gave is checked before the model is asked
    grounding, messages = choose_grounding(model, grounding,
                                           any(f is not None for f in flags))
    grounding = resolve_time_units(grounding, source.fps, source.fps_known, source.name)
    strategy = model.build_grounding(grounding)
    messages += long_sentence_warnings(model, texts)
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    check = check or (lambda: None)

    def decoded(i: int) -> None:
        bar.update()
        check()

    start = time.perf_counter()
    bar = tqdm(total=getattr(source, 'frame_count_hint', None) or None, unit='frame',
               desc='decoding', disable=not progress, dynamic_ncols=True)
    with bar:
        spill = FrameSpill(source, model.input_size, tmp_dir, on_frame=decoded)
    with spill:
        run = VideoRun(num_frames=spill.num_frames, fps=spill.fps,
                       ori_shape=tuple(spill.ori_shape), frame_names=list(spill.frame_names),
                       grounding=grounding_name(grounding), warnings=messages)
        run.timings['decode'] = time.perf_counter() - start
        samples = [make_sample(spill, text, str(k), f)
                   for k, (text, f) in enumerate(zip(texts, flags))]
        scores = [np.zeros(spill.num_frames, np.float32) for _ in texts]

        def on_frame(k: int, t: int, mask: torch.Tensor, score: float) -> None:
            scores[k][t] = score
            on_mask(k, t, mask.numpy())
            bar.update()
            check()

        def load(frames: Sequence[int]) -> torch.Tensor:
            return model.normalize(spill.load(frames))

        start = time.perf_counter()
        bar = tqdm(total=spill.num_frames * len(texts), unit='frame', desc='segmenting',
                   disable=not progress, dynamic_ncols=True)
        with bar:
            grounded, counts = model.predict_expressions(load, spill.num_frames, samples,
                                                         on_frame, grounding=strategy)
        run.timings['segment'] = time.perf_counter() - start
    run.mplus = [g.mplus.cpu().numpy() for g in grounded]
    run.frame_scores = [None if g.frame_scores is None else g.frame_scores.float().cpu().numpy()
                        for g in grounded]
    run.object_scores = scores
    run.counts = counts
    return run


__all__ = ['segment_expressions', 'VideoRun', 'MaskSink', 'ProgressCheck', 'clean_texts',
           'has_visible_character', 'long_sentence_warnings', 'choose_grounding',
           'make_sample']
