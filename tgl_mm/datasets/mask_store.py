"""A compact, worker-shareable store of COCO RLE masks.

MeViS ``train``'s ``mask_dict.json`` is large and each anno_id is referred to by several
expressions. The datasets keep every anno_id's per-frame RLE ``counts`` exactly once, as bytes in
one flat ``uint8`` numpy buffer (plus offset and size arrays). Numpy buffers are not touched by
Python reference counting, so dataloader workers forked from the main process share these pages
instead of copying them; samples hold only integer row numbers into the store and decode just the
sampled frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tgl_mm.formats import DataFormatError, decode_counts, rle_size


class RLEStore:
    """Rows of COCO RLEs (``None`` rows = empty mask), appended in tracks of consecutive rows.

    Build with :meth:`add_track` / :meth:`add`, then :meth:`finalize` (freezes into numpy arrays);
    read with :meth:`decode` and :meth:`size`.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._sizes: list[tuple[int, int]] = []
        self._finalized = False
        self.buffer = np.zeros(0, dtype=np.uint8)
        self.offsets = np.zeros(1, dtype=np.int64)
        self.sizes = np.zeros((0, 2), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.sizes) if self._finalized else len(self._sizes)

    @property
    def nbytes(self) -> int:
        """Memory held by the finalized arrays."""
        return self.buffer.nbytes + self.offsets.nbytes + self.sizes.nbytes

    def add(self, rle: dict | None) -> int:
        """Append one RLE (or ``None`` for an empty mask); return its row."""
        if self._finalized:
            raise RuntimeError('RLEStore is finalized')
        if rle is None:
            self._chunks.append(b'')
            self._sizes.append((0, 0))
        else:
            counts = rle['counts']
            self._chunks.append(counts.encode() if isinstance(counts, str) else bytes(counts))
            self._sizes.append(rle_size(rle))
        return len(self._sizes) - 1

    def add_track(self, rles: Sequence[dict | None]) -> int:
        """Append one RLE per frame of a track; return the row of its first frame."""
        first = len(self._sizes)
        for rle in rles:
            self.add(rle)
        return first

    def finalize(self) -> RLEStore:
        """Freeze the rows into numpy arrays (idempotent)."""
        if not self._finalized:
            lengths = np.fromiter((len(c) for c in self._chunks), dtype=np.int64,
                                  count=len(self._chunks))
            self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            self.buffer = np.frombuffer(b''.join(self._chunks), dtype=np.uint8).copy()
            self.sizes = np.asarray(self._sizes, dtype=np.int32).reshape(-1, 2)
            self._chunks, self._sizes = [], []
            self._finalized = True
        return self

    def size(self, row: int) -> tuple[int, int] | None:
        """``(H, W)`` of a row, ``None`` for an empty (null) row."""
        h, w = (int(x) for x in self.sizes[row])
        return None if h == 0 else (h, w)

    def counts(self, row: int) -> bytes:
        return self.buffer[self.offsets[row]:self.offsets[row + 1]].tobytes()

    def decode(self, row: int, size: Sequence[int], *, context: dict | None = None
               ) -> np.ndarray:
        """bool ``(H, W)`` mask of ``row`` (all False for a null row).

        Args:
            row: the row.
            size: ``(H, W)`` of the frame; an RLE of another size raises
                :class:`~tgl_mm.formats.DataFormatError` with ``context`` (keyword
                arguments of the error: file, video, expression, anno_id, frame).
        """
        h, w = int(size[0]), int(size[1])
        rle_hw = self.size(row)
        if rle_hw is None:
            return np.zeros((h, w), dtype=bool)
        ctx = context or {}
        if rle_hw != (h, w):
            raise DataFormatError(f'RLE size {list(rle_hw)} differs from the frame size '
                                  f'{[h, w]}', field='size', **ctx)
        try:
            m = decode_counts((h, w), self.counts(row))
        except Exception as e:
            raise DataFormatError(f'cannot decode RLE counts: {e}', field='counts', **ctx) from e
        return m.astype(bool)
