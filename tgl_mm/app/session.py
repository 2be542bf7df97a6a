"""One demo request: :func:`~tgl_mm.apis.video_outputs.infer_video` into a request folder,
the masks zipped, old request folders pruned.

A request folder holds ``infer_video``'s outputs (``masks/<k>/<t:05d>.png``: sentence ``k``,
0-based in the order typed, and frame ``t``, the 0-based index of the frame in the video, 0/255 at
the video's size; ``overlay.webm``, ``result.json``, whose ``input`` is the upload's file name,
never its server path) and ``masks.zip`` (the masks under the same names, plus ``result.json``).
The zip is written to a temporary file and renamed, like every output. With
:class:`~tgl_mm.app.limits.AppLimits` a request is bounded (sentences, upload size, pixels, time).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tgl_mm.apis.video_io import open_frames
from tgl_mm.apis.video_outputs import infer_video, mask_path
from tgl_mm.app.limits import (
    AppLimits,
    BudgetedSource,
    Deadline,
    check_declared_size,
    check_sentence_count,
    check_upload_size,
)
from tgl_mm.utils.fileio import atomic_path

if TYPE_CHECKING:   # the inference interface, for annotations (importing it imports the models)
    from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

OVERLAY_NAME = 'overlay.webm'  # VP8: what browsers play (see OVERLAY_FOURCC)
ZIP_NAME = 'masks.zip'


@dataclass
class DemoResult:
    """What one request produced.

    Attributes:
        folder: the request folder.
        overlay: the overlay video (VP8 WebM).
        masks_zip: ``masks/<k>/<frame:05d>.png`` for every sentence k and frame, and
            ``result.json``.
        result_json: ``infer_video``'s record on disk.
        record: the same record.
    """

    folder: Path
    overlay: Path
    masks_zip: Path
    result_json: Path
    record: dict


class RequestFolders:
    """Request folders ``request-*`` under ``root``; the newest ``keep`` are kept, older ones
    are deleted when a new one is made (their files may still be on someone's page, so ``keep``
    should be larger than the number of people using the demo at once)."""

    def __init__(self, root: str | os.PathLike, keep: int = 16) -> None:
        if keep < 1:
            raise ValueError(f'keep must be >= 1, got {keep}')
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def new(self) -> Path:
        """A fresh, empty request folder (older ones beyond ``keep`` are removed first)."""
        old = sorted(self.root.glob('request-*'), key=lambda p: p.stat().st_mtime)
        for folder in old[:max(0, len(old) - self.keep + 1)]:
            shutil.rmtree(folder, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix='request-', dir=self.root))


def zip_masks(folder: str | os.PathLike, record: dict,
              path: str | os.PathLike | None = None) -> Path:
    """Zip ``folder``'s masks (every sentence, every frame of ``record``) and ``result.json``
    into ``path`` (default ``folder/masks.zip``), atomically.

    Raises:
        FileNotFoundError: a mask of the record is missing (names the file).
    """
    folder = Path(folder)
    path = Path(path) if path is not None else folder / ZIP_NAME
    with atomic_path(path, suffix='.zip') as tmp, \
            zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
        for k in range(len(record['sentences'])):
            for t in range(record['num_frames']):
                mask = mask_path(folder, k, t)
                if not mask.is_file():
                    raise FileNotFoundError(f'mask missing: {mask}')
                archive.write(mask, mask.relative_to(folder).as_posix())
        result = folder / 'result.json'
        if result.is_file():
            archive.write(result, 'result.json')
    return path


def run_request(model: StreamingSegmentor, video: str | os.PathLike, texts: Sequence[str],
                folder: str | os.PathLike, grounding: str | dict | None = None,
                mplus_specs: Sequence[str] = (), progress: bool = True,
                source_name: str | None = None, limits: AppLimits | None = None,
                clock: Callable[[], float] = time.monotonic) -> DemoResult:
    """Segment ``texts`` on ``video`` with the streaming API and package the outputs.

    Args:
        model: a :class:`StreamingSegmentor` (e.g. a ``TGLSAM2`` from
            :func:`~tgl_mm.apis.init_model`).
        video: the video file.
        texts: the sentences.
        folder: the (empty) request folder.
        grounding: a ``GROUNDINGS`` name or config, or None for the model's own grounding
            (see :func:`infer_video`).
        mplus_specs: oracle M+ spans, one for all sentences or one per sentence.
        progress: tqdm progress bars (the page shows them).
        source_name: what messages and ``result.json`` call the video (default: its file
            name; never the server path of an upload).
        limits: the request's bounds (:class:`~tgl_mm.app.limits.AppLimits`), or None.
        clock: the time limit's monotonic clock (tests pass their own).

    Returns:
        :class:`DemoResult`.

    Raises:
        AppInputError: a limit is exceeded (the message names it and its option).
    """
    folder = Path(folder)
    name = source_name if source_name is not None else Path(video).name
    check = None
    source = open_frames(video)
    if limits is not None:
        check_sentence_count(list(texts), limits)
        check_upload_size(video, limits, name)
        check_declared_size(source, limits, name)
        source = BudgetedSource(source, limits, name)
        check = Deadline(limits.max_seconds, clock).check
    record = infer_video(model, source, texts, folder, grounding=grounding,
                         mplus_specs=mplus_specs, progress=progress, overlay_name=OVERLAY_NAME,
                         source_name=name, check=check, spans_name='M+ spans')
    return DemoResult(folder=folder, overlay=folder / OVERLAY_NAME,
                      masks_zip=zip_masks(folder, record), result_json=folder / 'result.json',
                      record=record)


__all__ = ['DemoResult', 'RequestFolders', 'zip_masks', 'run_request', 'OVERLAY_NAME',
           'ZIP_NAME']
