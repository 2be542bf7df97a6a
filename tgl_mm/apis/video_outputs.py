"""``tools/infer.py``'s library side: sentences and M+ spans from the command line, masks written
as they are produced, an overlay video, ``result.json``, all appearing atomically.

Output folder ``DIR``::

    DIR/masks/<k>/<frame:05d>.png  sentence k's mask of frame t (0/255, the video's size)
    DIR/overlay.mp4                every sentence's mask in its colour, a legend, M+ timelines
    DIR/result.json                per sentence: text, M+ frames, scores; frames, fps, timings

A run owns ``DIR`` (:class:`~tgl_mm.apis.output_dir.OutputLock`: a second run into it is
refused while the first lives). Everything is written into ``DIR/.partial-<pid>/`` first and
moved in place at the end, ``result.json`` last, so a killed run never leaves a ``result.json``
that looks complete; an earlier run's outputs (``result.json`` first, then its masks and every
overlay name) and the staging folders of dead runs are removed, so nothing stale stays beside
the new outputs.
"""
from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from tgl_mm.apis.output_dir import (
    PARTIAL_PREFIX,
    OutputLock,
    prepare_out_dir,
    remove_outputs,
    remove_stale_partials,
)
from tgl_mm.apis.streaming import (
    ProgressCheck,
    VideoRun,
    choose_grounding,
    clean_texts,
    segment_expressions,
)
from tgl_mm.apis.video_io import FrameSource, open_frames
from tgl_mm.formats import mask_to_png, mask_to_spans, read_mask_png
from tgl_mm.utils.fileio import atomic_dump_json, atomic_path
from tgl_mm.visualization.overlay import PALETTE, overlay_mask

if TYPE_CHECKING:   # the inference interface, for annotations (importing it imports the models)
    from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

LEGEND_ROW = 18     # legend height per sentence (pixels, at most: see render_overlay_frame)
TIMELINE_ROW = 8    # M+ timeline height per sentence (pixels, at most)
#: overlay video codec by file suffix: mp4v for ``.mp4`` (what players and OpenCV read), VP8 for
#: ``.webm`` (what browsers play; the pip OpenCV wheels cannot encode H.264)
OVERLAY_FOURCC = {'.mp4': 'mp4v', '.webm': 'VP80'}


def parse_span(part: str, num_frames: int, what: str = '--mplus') -> tuple[int, int]:
    """One span ``"a-b"`` (a to b), ``"a-"`` (a to the last frame) or ``"a"`` (frame a
    alone) as inclusive 0-based ``(lo, hi)``; ``ValueError`` naming ``what`` and the span when
    it is malformed or out of ``[0, T)``."""
    a, dash, b = part.partition('-')
    try:
        lo = int(a)
        hi = int(b) if b.strip() else (num_frames - 1 if dash else lo)
    except ValueError:
        raise ValueError(f'{what} span {part!r} is not "a-b", "a-" (to the end) or "a" '
                         '(0-based frame indices)') from None
    if not 0 <= lo <= hi < num_frames:
        raise ValueError(f'{what} span {part!r} is out of range for a video of '
                         f'{num_frames} frames (0-{num_frames - 1})')
    return lo, hi


def parse_spans(spec: str, num_frames: int, what: str = '--mplus') -> np.ndarray:
    """M+ flags (T,) from ``"a-b,c,d-"`` (0-based frame indices, inclusive ranges; ``d-``
    runs to the last frame), the rule of ``tools/infer.py --mplus`` and the app's span box.

    Raises ``ValueError`` naming ``what`` and the span when it is malformed or out of
    ``[0, T)``.
    """
    flags = np.zeros(num_frames, bool)
    for part in spec.split(','):
        part = part.strip()
        if not part:
            continue
        lo, hi = parse_span(part, num_frames, what)
        flags[lo:hi + 1] = True
    if not flags.any():
        raise ValueError(f'{what} {spec!r} selects no frame')
    return flags


def read_texts_file(path: str | os.PathLike) -> list[str]:
    """Sentences of a UTF-8 text file, one per line; blank lines are skipped with a warning."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'texts file not found: {path}')
    try:
        content = path.read_text(encoding='utf-8')
    except UnicodeDecodeError as err:
        raise ValueError(f'texts file {path} is not UTF-8 ({err.reason}: byte '
                         f'0x{err.object[err.start]:02x} at position {err.start}); save it as '
                         'UTF-8') from None
    texts = []
    for i, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            texts.append(line.strip())
        else:
            warnings.warn(f'{path}:{i}: blank line skipped', stacklevel=2)
    if not texts:
        raise ValueError(f'texts file {path} has no sentence')
    return texts


def colour(k: int) -> tuple[int, int, int]:
    """RGB colour of sentence ``k``."""
    return PALETTE[k % len(PALETTE)]


def band_rows(height: int, count: int, row: int, share: float, least: int) -> int:
    """Height of one of ``count`` rows of a band drawn over a frame of ``height`` pixels:
    ``row`` when the band fits in ``share`` of the frame, else smaller (at least ``least``)."""
    if count == 0:
        return 0
    return max(least, min(row, int(height * share) // count))


def render_overlay_frame(frame: np.ndarray, masks: Sequence[np.ndarray], texts: Sequence[str],
                         mplus: Sequence[np.ndarray], t: int) -> np.ndarray:
    """One overlay frame, at the frame's exact size: every sentence's mask in its colour, a
    legend (one row per sentence) over the top of the frame and an M+ timeline strip per
    sentence, with a cursor at frame ``t``, over the bottom, both on a darkened band.

    The legend takes at most half the frame's height and the strips a quarter; on a small
    frame or with many sentences the rows get thinner (legend text is left out below 10 px).

    Args:
        frame: uint8 (H, W, 3) RGB.
        masks: K bool (H, W).
        texts: K sentences.
        mplus: K bool (T,) M+ flags.
        t: the frame index.

    Returns:
        uint8 (H, W, 3) RGB.
    """
    height, width = frame.shape[:2]
    out = frame
    for k, mask in enumerate(masks):
        out = overlay_mask(out, mask, colour(k), alpha=0.45, contour_thickness=1)
    if out is frame:             # no mask drawn: never draw on the caller's frame
        out = frame.copy()
    count = len(texts)
    legend_row = band_rows(height, count, LEGEND_ROW, 0.5, 1)
    if legend_row:
        band = out[:legend_row * count]
        band[:] = band // 3        # darkened, so the text reads on any video
        for k, text in enumerate(texts):
            y = k * legend_row
            box = max(1, min(10, legend_row - 4))
            cv2.rectangle(out, (3, y + (legend_row - box) // 2),
                          (3 + box, y + (legend_row - box) // 2 + box), colour(k), -1)
            if legend_row >= 10:
                cv2.putText(out, f'{k}: {text}', (18, y + legend_row - 5),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    strip_row = band_rows(height, len(mplus), TIMELINE_ROW, 0.25, 2)
    top = height - strip_row * len(mplus)
    for k, flags in enumerate(mplus):
        num = len(flags)
        y0 = top + k * strip_row
        strip = out[y0:y0 + strip_row]
        strip[:] = 30
        cols = np.minimum((np.arange(width) * num) // width, num - 1)
        inner = strip[1:-1] if strip_row > 2 else strip
        inner[:, flags[cols]] = colour(k)
        x = min(width - 1, (t * width) // num)
        strip[:, max(0, x - 1):x + 1] = 255
    return out


def mask_path(root: Path, k: int, t: int) -> Path:
    """Where sentence ``k``'s mask of frame ``t`` (0-based) goes under ``root``."""
    return root / 'masks' / str(k) / f'{t:05d}.png'


def write_overlay(source, root: Path, run: VideoRun, texts: Sequence[str], path: Path,
                  progress: bool = False, check: ProgressCheck | None = None) -> None:
    """Render the overlay video by decoding the video again, frame by frame, with the masks
    read back from ``root``; written atomically. The codec follows ``path``'s suffix
    (:data:`OVERLAY_FOURCC`: ``.mp4`` mp4v, ``.webm`` VP8)."""
    from tqdm import tqdm

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OVERLAY_FOURCC:
        raise ValueError(f'overlay video {path}: unknown suffix {suffix!r} '
                         f'(one of {sorted(OVERLAY_FOURCC)})')
    fourcc = OVERLAY_FOURCC[suffix]
    height, width = run.ori_shape
    size = (width, height)      # the overlay keeps the video's exact size
    with atomic_path(path, suffix=suffix) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), run.fps, size)
        if not writer.isOpened():
            raise OSError(f'cannot write {path}: OpenCV has no {fourcc} encoder here')
        try:
            frames = tqdm(zip(range(run.num_frames), source), total=run.num_frames,
                          unit='frame', desc='overlay', disable=not progress,
                          dynamic_ncols=True)
            for t, frame in frames:
                masks = [read_mask_png(mask_path(root, k, t))
                         for k in range(len(texts))]
                image = render_overlay_frame(frame, masks, texts, run.mplus, t)
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                if check is not None:
                    check()
        finally:
            writer.release()


def result_record(source_name: str, texts: Sequence[str], run: VideoRun, grounding: str,
                  timings: dict[str, float], messages: Sequence[str] = ()) -> dict:
    """The ``result.json`` content (``messages``: the run's warnings)."""
    sentences = []
    for k, text in enumerate(texts):
        scores = run.frame_scores[k]
        sentences.append(dict(
            index=k, text=text, mask_dir=f'masks/{k}',
            mplus_frames=[int(t) for t in np.flatnonzero(run.mplus[k])],
            mplus_spans=mask_to_spans(run.mplus[k]),
            object_scores=[round(float(s), 4) for s in run.object_scores[k]],
            frame_scores=None if scores is None else [round(float(s), 4) for s in scores]))
    total = timings.get('total', 0.0)
    return dict(input=source_name, num_frames=run.num_frames, fps=run.fps,
                height=run.ori_shape[0], width=run.ori_shape[1], frame_names=run.frame_names,
                grounding=grounding, warnings=list(messages), sentences=sentences,
                encoder=dict(run.counts, passes_per_sentence=round(
                    run.counts.get('trunk_frames', 0) / max(1, len(texts) * run.num_frames), 4)),
                timings=dict({k: round(v, 3) for k, v in timings.items()},
                             frames_per_s=round(run.num_frames * len(texts) / max(total, 1e-9),
                                                2)))


#: what a run writes into its output folder (an earlier run's copies are removed)
OUTPUT_NAMES = ('result.json', 'masks', *(f'overlay{suffix}' for suffix in OVERLAY_FOURCC))


def infer_video(model: StreamingSegmentor, source: str | os.PathLike | FrameSource,
                texts: Sequence[str], out_dir: str | os.PathLike,
                grounding: str | dict | None = None, mplus_specs: Sequence[str] = (),
                overlay: bool = True, progress: bool = True,
                overlay_name: str = 'overlay.mp4', source_name: str | None = None,
                check: ProgressCheck | None = None, fps: float | None = None,
                spans_name: str = '--mplus') -> dict:
    """Segment ``texts`` on a video file or frame folder and write ``out_dir`` (see the module
    docstring).

    Args:
        model: a :class:`StreamingSegmentor` (e.g. a ``TGLSAM2`` from
            :func:`~tgl_mm.apis.init_model`).
        source: a video file, a folder of frames, or a :class:`FrameSource`.
        texts: the sentences.
        out_dir: the output folder; this run owns it (a second run into it is refused while
            this one lives, an earlier run's outputs are replaced, none of them kept).
        grounding: a ``GROUNDINGS`` name or config (e.g. ``dict(type='moment_retrieval',
            pred_file=..., unit='seconds')``, whose qids are ``video/<k>`` for sentence k);
            default: ``oracle`` with ``mplus_specs``, else the model's TAM when it has one,
            else ``none`` with a warning (:func:`~tgl_mm.apis.streaming.choose_grounding`).
            Spans with a grounding that does not read them are refused.
        mplus_specs: M+ spans (:func:`parse_spans`): none, one for every sentence, or one per
            sentence.
        overlay: write the overlay video.
        progress: progress bars.
        overlay_name: the overlay's file name; its suffix picks the codec
            (:data:`OVERLAY_FOURCC`; ``overlay.webm`` plays in browsers).
        source_name: what ``result.json`` calls the input (default: ``source`` as given; the
            app passes the upload's name, not its server path).
        check: called per decoded frame, mask and overlay frame; what it raises ends the run
            (the app's time limit).
        fps: the frame rate of a frame folder (a video file has its own).
        spans_name: what the spans are called in messages (``--mplus``, ``M+ spans``).

    Returns:
        the ``result.json`` record.
    """
    start = time.perf_counter()
    texts = clean_texts(texts)
    if overlay and (Path(overlay_name).name != overlay_name
                    or Path(overlay_name).suffix.lower() not in OVERLAY_FOURCC):
        raise ValueError(f'overlay_name {overlay_name!r} must be a file name ending in one of '
                         f'{sorted(OVERLAY_FOURCC)}')
    if len(mplus_specs) not in (0, 1, len(texts)):
        raise ValueError(f'give {spans_name} once (every sentence) or once per sentence '
                         f'({len(texts)}), got {len(mplus_specs)}')
    grounding, messages = choose_grounding(model, grounding, bool(mplus_specs),
                                           f'{spans_name} spans')
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    frames = open_frames(source, fps)
    name = source_name if source_name is not None else getattr(frames, 'name', str(source))
    out = prepare_out_dir(out_dir)
    check = check or (lambda: None)
    with OutputLock(out):
        (out / 'result.json').unlink(missing_ok=True)  # a stale one would look complete
        stage = out / f'{PARTIAL_PREFIX}{os.getpid()}'
        remove_stale_partials(out)
        try:
            num = sum(1 for _ in frames) if mplus_specs else 0  # spans need T before segmenting
            specs = list(mplus_specs) * (len(texts) if len(mplus_specs) == 1 else 1)
            mplus = [parse_spans(s, num, spans_name) for s in specs] or None
            for k in range(len(texts)):
                (stage / 'masks' / str(k)).mkdir(parents=True)

            def on_mask(k: int, t: int, mask: np.ndarray) -> None:
                mask_path(stage, k, t).write_bytes(mask_to_png(mask))

            run = segment_expressions(model, frames, texts, on_mask, grounding=grounding,
                                      mplus=mplus, tmp_dir=stage, progress=progress,
                                      check=check)
            overlay_start = time.perf_counter()
            if overlay:
                write_overlay(frames, stage, run, texts, stage / overlay_name, progress,
                              check)
            timings = dict(run.timings, overlay=time.perf_counter() - overlay_start)
            remove_outputs(out, OUTPUT_NAMES)   # nothing of an earlier run stays beside these
            os.replace(stage / 'masks', out / 'masks')
            if overlay:
                os.replace(stage / overlay_name, out / overlay_name)
            timings['total'] = time.perf_counter() - start
            record = result_record(str(name), texts, run, run.grounding, timings,
                                   [*messages, *run.warnings])
            atomic_dump_json(record, out / 'result.json', indent=1)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return record


__all__ = ['OVERLAY_FOURCC', 'OUTPUT_NAMES', 'infer_video', 'parse_span', 'parse_spans',
           'read_texts_file',
           'render_overlay_frame', 'write_overlay', 'result_record', 'mask_path']
