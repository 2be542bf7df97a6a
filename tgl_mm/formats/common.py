"""What every data format of tgl_mm shares: :class:`DataFormatError` (an error naming the file,
video, expression, frame and field) and strict JSON loading (:func:`load_json`)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ['DataFormatError', 'load_json']


class DataFormatError(ValueError):
    """Bad dataset input. The message names where the problem is.

    Attributes ``file``, ``video``, ``expression``, ``frame``, ``field`` and ``anno_id`` hold the
    context (``None`` when not applicable) for programs that want it.
    """

    def __init__(self, message: str, *, file: str | os.PathLike | None = None,
                 video: str | None = None, expression: str | None = None,
                 frame: str | int | None = None, field: str | None = None,
                 anno_id: str | None = None) -> None:
        self.file = None if file is None else str(file)
        self.video, self.expression, self.frame = video, expression, frame
        self.field, self.anno_id = field, anno_id
        self.reason = message
        where = []
        if self.file is not None:
            where.append(f'file {self.file}')
        if video is not None:
            where.append(f'video {video!r}')
        if expression is not None:
            where.append(f'expression {expression!r}')
        if anno_id is not None:
            where.append(f'anno_id {anno_id!r}')
        if frame is not None:
            where.append(f'frame {frame!r}')
        if field is not None:
            where.append(f'field {field!r}')
        super().__init__(f'{", ".join(where)}: {message}' if where else message)


def _no_duplicate_keys(source: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                raise DataFormatError(f'duplicate key {key!r} (duplicate ids are not allowed)',
                                      file=source)
            out[key] = value
        return out
    return hook


def load_json(path: str | os.PathLike, *, what: str = 'JSON file') -> Any:
    """Load a JSON file; a missing/unreadable file, invalid JSON or a duplicate key (e.g. a video
    or expression id given twice) raises :class:`DataFormatError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f'{what} not found', file=path)
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f, object_pairs_hook=_no_duplicate_keys(str(path)))
    except DataFormatError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(f'cannot read {what}: {e}', file=path) from e
    except json.JSONDecodeError as e:
        raise DataFormatError(f'invalid JSON at line {e.lineno} column {e.colno}: {e.msg}',
                              file=path) from e
