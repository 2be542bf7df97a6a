"""Lazy, chunked encoding of a whole test video for the MDP head.

At inference the MDP head asks for one frame's features at a time, in its own processing order
(M+ frames first, then M- frames as soon as their nearest M+ memories exist). Encoding frame by
frame would waste the encoders' batching and break the adapter's clip-level text attention, and
encoding the whole video at once would hold every frame's multi-scale features. This source
encodes *chunks* of frames of the same path on demand and keeps only a couple of them:

- M+ frames (the adapter path) are grouped, in temporal order, into chunks of ``chunk_size``
  frames that go through the lockstep encoder together, like a training clip: the text stream of
  a chunk attends to the chunk's frames and gives that chunk's text prompt.
- M- frames (the raw SAM2 path, text-independent) are encoded in chunks of ``chunk_size`` too.

A source may serve a *batch* of K sentences that share their M+ frames (hence their chunks and
the head's plan): an adapter-path chunk of n frames is then encoded for the K sentences at once
(K * n rows, sentence-major) with a (K, P, C) prompt, while a raw-path chunk keeps its n rows,
each frame's row repeated for the K sentences when it is read.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor

#: encodes frames (a list of n frame indices) on one path -> (image-encoder output dict with n
#: frames, or K * n for K sentences (sentence-major); text prompt (P, C) or (K, P, C), or None);
#: the function loads the frames itself, so no video-long tensor needs to exist
EncodeFn = Callable[[list[int], bool], tuple[dict, Tensor | None]]


def path_chunks(adapt: Tensor, chunk_size: int) -> tuple[list[list[int]], dict[int, int]]:
    """Group frames of the same path into chunks of consecutive (same-path) frames.

    Args:
        adapt: bool (T,) frames on the adapter path.
        chunk_size: frames per chunk (>= 1).

    Returns:
        ``(chunks, chunk_of)``: the chunks (lists of frame indices, each on one path, in temporal
        order) and the chunk index of every frame.
    """
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    chunks: list[list[int]] = []
    chunk_of: dict[int, int] = {}
    for flag in (True, False):
        frames = [t for t, a in enumerate(adapt.tolist()) if a == flag]
        for i in range(0, len(frames), chunk_size):
            chunk_of.update({t: len(chunks) for t in frames[i:i + chunk_size]})
            chunks.append(frames[i:i + chunk_size])
    return chunks, chunk_of


def frame_rows(i: int, n: int, batch: int, num_rows: int) -> slice | Tensor:
    """Rows of frame ``i`` of an n-frame chunk's features for K = ``batch`` sentences: the
    chunk holds ``num_rows`` rows, K * n (sentence-major: frame ``i`` of sentence ``b`` is row
    ``b * n + i``) or n (shared by the K sentences: the row is repeated)."""
    if batch == 1 and num_rows == n:
        return slice(i, i + 1)
    if num_rows == n * batch:
        return torch.arange(batch) * n + i
    if num_rows == n:
        return torch.full((batch,), i, dtype=torch.long)
    raise ValueError(f'a chunk of {n} frames for {batch} sentences has {num_rows} feature rows')


class ChunkedFeatures:
    """A ``t -> features`` source (see ``MDPHead.iter_video``) that encodes chunks on demand.

    Args:
        adapt: bool (T,) frames on the adapter path (F_Adp + text prompt).
        encode: ``encode(frame_indices, adapted) -> (features dict, prompt or None)``.
        chunk_size: frames per chunk.
        max_cached: chunks kept at once (least recently used are dropped).
        batch: K, the sentences served together (see the module docstring).
    """

    def __init__(self, adapt: Tensor, encode: EncodeFn, chunk_size: int,
                 max_cached: int = 2, batch: int = 1) -> None:
        if adapt.dim() != 1:
            raise ValueError(f'adapt must be (T,), got {tuple(adapt.shape)}')
        self.adapt = adapt.bool().cpu()
        self.encode = encode
        self.chunks, self.chunk_of = path_chunks(self.adapt, chunk_size)
        self.max_cached = max(1, max_cached)
        if batch < 1:
            raise ValueError(f'batch must be >= 1, got {batch}')
        self.batch = int(batch)
        self._cache: OrderedDict[int, tuple[dict, Tensor | None]] = OrderedDict()
        self.num_encoded_chunks = 0  # chunks encoded so far (re-encodes included)

    def _get(self, t: int) -> tuple[dict, Tensor | None, int]:
        c = self.chunk_of[t]
        if c in self._cache:
            self._cache.move_to_end(c)
        else:
            frames = self.chunks[c]
            self._cache[c] = self.encode(frames, bool(self.adapt[frames[0]]))
            self.num_encoded_chunks += 1
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        feats, prompt = self._cache[c]
        return feats, prompt, self.chunks[c].index(t)

    def __call__(self, t: int) -> dict:
        """Image-encoder output dict of frame ``t`` (batch dimension K)."""
        feats, _, i = self._get(t)
        rows = frame_rows(i, len(self.chunks[self.chunk_of[t]]), self.batch,
                          feats['vision_features'].shape[0])
        return {k: [x[rows] for x in v] if isinstance(v, list) else v[rows]
                for k, v in feats.items()}

    def prompt(self, t: int) -> Tensor | None:
        """Text prompt (P, C) or (K, P, C) of the chunk holding frame ``t`` (None on the raw
        path)."""
        return self._get(t)[1]

    def __repr__(self) -> str:
        sizes = [len(c) for c in self.chunks]
        return f'{type(self).__name__}(frames={len(self.adapt)}, chunks={sizes})'


__all__ = ['ChunkedFeatures', 'path_chunks', 'frame_rows']
