"""One demo request: :func:`~tgl_mm.apis.video_outputs.infer_video` into a request folder,
the masks zipped, old request folders pruned.

A request folder holds ``infer_video``'s outputs (``masks/<k>/<frame:05d>.png``,
``overlay.webm``, ``result.json``) and ``masks.zip`` (the masks under the same names, plus
``result.json``). The zip is written to a temporary file and renamed, like every output.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from tgl_mm.apis.video_outputs import infer_video, mask_path
from tgl_mm.utils.fileio import atomic_path

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


def run_request(model: torch.nn.Module, video: str | os.PathLike, texts: Sequence[str],
                folder: str | os.PathLike, grounding: str | dict | None = None,
                mplus_specs: Sequence[str] = (), progress: bool = True) -> DemoResult:
    """Segment ``texts`` on ``video`` with the streaming API and package the outputs.

    Args:
        model: a ``TGLSAM2`` from :func:`~tgl_mm.apis.init_model`.
        video: the video file.
        texts: the sentences.
        folder: the (empty) request folder.
        grounding: a ``GROUNDINGS`` name or config (see :func:`infer_video`).
        mplus_specs: oracle M+ spans, one for all sentences or one per sentence.
        progress: tqdm progress bars (the page shows them).

    Returns:
        :class:`DemoResult`.
    """
    folder = Path(folder)
    record = infer_video(model, video, texts, folder, grounding=grounding,
                         mplus_specs=mplus_specs, progress=progress, overlay_name=OVERLAY_NAME)
    return DemoResult(folder=folder, overlay=folder / OVERLAY_NAME,
                      masks_zip=zip_masks(folder, record), result_json=folder / 'result.json',
                      record=record)


__all__ = ['DemoResult', 'RequestFolders', 'zip_masks', 'run_request', 'OVERLAY_NAME',
           'ZIP_NAME']
