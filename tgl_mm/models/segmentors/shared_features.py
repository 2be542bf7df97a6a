"""Sentence-independent encoder work of one video, computed once and shared by its sentences.

Two things do not depend on the sentence (see
:mod:`~tgl_mm.models.necks.lockstep_encoder`): the image encoder up to and including the first
adapted Hiera stage (the *trunk*: both paths compute it identically), and ``F_SAM``, the raw
features of frames on the M- path. :class:`SharedFrameFeatures` computes them on demand for a
list of frames and keeps the most recently used ``max_frames`` frames of each (a few frames,
not a video: Hiera-B+ features at 1024 px are ~90 MB a frame), so sentences processed side by
side (:class:`~tgl_mm.models.segmentors.tgl_sam2.TGLSAM2.predict_expressions`) reuse them.
Counters record how many frames went through each part (``trunk_frames`` counts image-encoder
passes).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from tgl_mm.models.necks.lockstep_encoder import encode_trunk, num_shared_stages, raw_from_trunk

#: ``load(frames) -> (n, 3, S, S)`` normalised float frames of the video
FrameLoader = Callable[[Sequence[int]], Tensor]


def stack_frame_feats(items: Sequence[dict | list[Tensor]]) -> dict | list[Tensor]:
    """Concatenate per-frame feature dicts (or lists) of batch 1 along the batch dimension."""
    first = items[0]
    if isinstance(first, list):
        return [torch.cat([it[i] for it in items]) for i in range(len(first))]
    return {k: stack_frame_feats([it[k] for it in items]) if isinstance(v, list)
            else torch.cat([it[k] for it in items]) for k, v in first.items()}


def split_frame_feats(feats: dict | list[Tensor], n: int) -> list:
    """Split batched features (a dict or list of (n, ...) tensors) into n per-frame entries."""
    if isinstance(feats, list):
        return [[x[i:i + 1] for x in feats] for i in range(n)]
    per_key = {k: split_frame_feats(v, n) if isinstance(v, list)
               else [v[i:i + 1] for i in range(n)] for k, v in feats.items()}
    return [{k: per_key[k][i] for k in feats} for i in range(n)]


class _LRU:
    """A bounded ``frame -> value`` store; the least recently used entry goes first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, int(capacity))
        self.items: OrderedDict[int, object] = OrderedDict()

    def get(self, t: int) -> object | None:
        if t in self.items:
            self.items.move_to_end(t)
            return self.items[t]
        return None

    def put(self, t: int, value: object) -> None:
        if self.capacity == 0:
            return
        self.items[t] = value
        self.items.move_to_end(t)
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)


class SharedFrameFeatures:
    """Per-frame trunk outputs and F_SAM of one video, computed on demand, cached (bounded).

    Args:
        image_encoder: the model's ``SAM2ImageEncoder``.
        adapter: the model's ``CrossModalAdapter`` or None (then the trunk is the whole
            encoder).
        load: :data:`FrameLoader` of the video.
        max_frames: frames kept per cache (trunk and F_SAM each); 0 disables sharing.
    """

    def __init__(self, image_encoder, adapter, load: FrameLoader, max_frames: int) -> None:
        self.image_encoder = image_encoder
        self.num_stages = num_shared_stages(image_encoder, adapter)
        self.load = load
        self._trunk = _LRU(max_frames)
        self._raw = _LRU(max_frames)
        self.trunk_frames = 0   # frames through patch embedding + shared stages (encoder passes)
        self.raw_frames = 0     # frames through the remaining stages + neck on the raw path

    def trunk(self, frames: Sequence[int]) -> list[Tensor]:
        """Shared-stage outputs of ``frames``: ``num_stages`` channels-last (n, h, w, C) maps."""
        frames = [int(t) for t in frames]
        missing = [t for t in frames if self._trunk.get(t) is None]
        fresh = {}
        if missing:
            outs = encode_trunk(self.image_encoder, self.load(missing), self.num_stages)
            self.trunk_frames += len(missing)
            fresh = dict(zip(missing, split_frame_feats(outs, len(missing))))
            for t, value in fresh.items():
                self._trunk.put(t, value)
        return stack_frame_feats([fresh[t] if t in fresh else self._trunk.get(t)
                                  for t in frames])

    def raw(self, frames: Sequence[int]) -> dict:
        """F_SAM of ``frames``: the image-encoder output dict with n frames."""
        frames = [int(t) for t in frames]
        missing = [t for t in frames if self._raw.get(t) is None]
        fresh = {}
        if missing:
            feats = raw_from_trunk(self.image_encoder, self.trunk(missing))
            self.raw_frames += len(missing)
            fresh = dict(zip(missing, split_frame_feats(feats, len(missing))))
            for t, value in fresh.items():
                self._raw.put(t, value)
        return stack_frame_feats([fresh[t] if t in fresh else self._raw.get(t) for t in frames])

    def counts(self) -> dict[str, int]:
        """``{'trunk_frames', 'raw_frames'}``: frames computed so far (cache misses)."""
        return dict(trunk_frames=self.trunk_frames, raw_frames=self.raw_frames)


__all__ = ['SharedFrameFeatures', 'FrameLoader', 'stack_frame_feats', 'split_frame_feats']
