"""Whole-video inference of :class:`~tgl_mm.models.segmentors.TGLSAM2` (``mode='predict'``),
streaming, and the :class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor`
members the inference API and the demo app use.

A grounding strategy (``test_cfg.grounding``, or the one passed with the call) decides M+; the
frames are encoded lazily in chunks of ``test_cfg.chunk_size`` frames of the same path (see
:mod:`~tgl_mm.models.segmentors.chunked_features`) while the head tracks frame by frame with
bounded memory; several sentences of one video move through it side by side
(:func:`interleave`), sharing their sentence-independent encoder work
(:class:`~tgl_mm.models.segmentors.shared_features.SharedFrameFeatures`); sentences with the
same M+ frames run as one batch (:func:`same_mplus_groups`).
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor

from tgl_mm.models.grounding.base import BaseGrounding, GroundingResult
from tgl_mm.models.heads.mdp_head import postprocess_mask_logits
from tgl_mm.models.segmentors.chunked_features import ChunkedFeatures
from tgl_mm.models.segmentors.shared_features import FrameLoader, SharedFrameFeatures
from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample


class StreamingInferenceMixin:
    """``predict`` and the streaming members of :class:`~tgl_mm.models.segmentors.TGLSAM2`
    (uses its ``head``, ``data_preprocessor``, ``tam``, ``grounding``, ``encode``,
    ``tokenize``, ``text_prompt`` and the ``test_cfg`` values)."""

    # --- the inference interface (StreamingSegmentor) ------------------------------------------
    @property
    def input_size(self) -> int:
        """S: the side of the square (resized and padded) frames the model reads."""
        return self.head.image_size

    @property
    def has_tam(self) -> bool:
        """Whether the model has a Temporal Alignment Module to ground sentences itself."""
        return self.tam is not None

    @property
    def grounding_cfg(self) -> dict:
        """The configured test-time grounding (``test_cfg.grounding``; a copy)."""
        return dict(self._grounding_cfg)

    def normalize(self, frames: Tensor) -> Tensor:
        """uint8 RGB (n, 3, S, S) -> normalised float (n, 3, S, S) on the model's device."""
        return self.data_preprocessor.normalize(frames)

    def build_grounding(self, grounding: str | dict | BaseGrounding | None = None
                        ) -> BaseGrounding:
        """A grounding strategy this model can run, the model left as it is: a ``GROUNDINGS``
        name or config is built, a strategy is taken as it is, None is the model's own
        (``test_cfg.grounding``).

        Raises:
            ValueError: the grounding needs TAM scores and the model has no TAM.
        """
        if grounding is None:
            return self.grounding
        if not isinstance(grounding, BaseGrounding):
            grounding = GROUNDINGS.build(dict(type=grounding) if isinstance(grounding, str)
                                         else grounding)
        if grounding.needs_frame_scores and self.tam is None:
            raise ValueError(f'grounding {type(grounding).__name__} needs a TAM, and this model '
                             'has none: set model.tam and load a checkpoint trained with '
                             'tools/train_tam.py')
        return grounding

    def truncated_sentence(self, text: str) -> tuple[int, int, str] | None:
        """``(tokens, limit, kept)`` when the text encoder reads only part of ``text`` (see
        :meth:`HFTextEncoder.truncated_sentence`), else None."""
        truncated = getattr(self.text_backbone, 'truncated_sentence', None)
        return None if truncated is None else truncated(text)

    # --- whole videos --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[VideoDataSample]
                ) -> list[VideoDataSample]:
        """Segment whole videos; fills ``pred_masks`` (T, H, W) at the original size,
        ``pred_mplus``, ``pred_object_scores`` and (with a TAM) ``pred_frame_scores``.

        ``inputs`` (B, T, 3, S, S): normalised float frames, or uint8 frames (normalised chunk
        by chunk). Samples of one video in a batch (same ``video_id`` and frames) are segmented
        side by side, sharing their sentence-independent encoder work
        (:meth:`predict_expressions`); in ``tools/test.py``,
        :class:`~tgl_mm.datasets.VideoBatchSampler` puts a video's expressions in one batch.
        """
        for rows in same_video_groups(inputs, data_samples):
            self.predict_video(inputs[rows[0]], [data_samples[i] for i in rows])
        return data_samples

    def frame_loader(self, frames: Tensor) -> FrameLoader:
        """A :data:`FrameLoader` over (T, 3, S, S) frames: uint8 frames are normalised per
        request (float frames are taken as normalised)."""
        def load(idx: Sequence[int]) -> Tensor:
            chunk = frames[list(idx)]
            if chunk.is_floating_point():
                return chunk.to(self.data_preprocessor.device)
            return self.data_preprocessor.normalize(chunk)
        return load

    def predict_video(self, frames: Tensor, samples: VideoDataSample | list[VideoDataSample]
                      ) -> VideoDataSample | list[VideoDataSample]:
        """Segment one video for one or several expressions: frames (T, 3, S, S) (normalised
        float or uint8); results go into the samples (see :meth:`predict`)."""
        group = [samples] if isinstance(samples, VideoDataSample) else list(samples)
        num = frames.shape[0]
        masks = [torch.zeros((num, *s.metainfo['ori_shape']), dtype=torch.bool) for s in group]
        scores = [torch.zeros(num) for _ in group]

        def keep(k: int, t: int, mask: Tensor, score: float) -> None:
            masks[k][t] = mask
            scores[k][t] = score

        grounded, counts = self.predict_expressions(self.frame_loader(frames), num, group, keep)
        counts['expressions'] = len(group)
        for key, value in counts.items():
            self.encoder_counts[key] = self.encoder_counts.get(key, 0) + value
        for sample, mask, score, result in zip(group, masks, scores, grounded):
            sample.pred_masks = mask
            sample.pred_mplus = result.mplus.cpu()
            sample.pred_object_scores = score
            if result.frame_scores is not None:
                sample.pred_frame_scores = result.frame_scores.float().cpu()
        return samples

    def predict_expressions(self, load: FrameLoader, num_frames: int,
                            samples: Sequence[VideoDataSample],
                            on_frame: Callable[[int, int, Tensor, float], None],
                            grounding: str | dict | BaseGrounding | None = None
                            ) -> tuple[list[GroundingResult], dict[str, int]]:
        """Segment K expressions of one video side by side, streaming.

        Frames are loaded (:data:`FrameLoader`) only when a chunk is encoded, and each mask is
        handed to ``on_frame`` as soon as it exists, so nothing here grows with the video
        length. The work that does not depend on the sentence (the encoder trunk, F_SAM of M-
        frames) is shared through a bounded :class:`SharedFrameFeatures` cache; to keep the
        sentences near the same frames, the next frame is always taken from the sentence whose
        next planned frame is earliest (:func:`interleave`). Sentences with the same M+ frames
        (:func:`same_mplus_groups`: the same chunks and plan) run as one batch through the
        adapter path, the text prompt and the head. Each sentence's masks equal a run of that
        sentence alone (its logits and object scores to float32 rounding when it ran in a
        batch).

        Args:
            load: frames of the video by index, normalised (n, 3, S, S).
            num_frames: T.
            samples: K samples of the video (metainfo ``text``, ``ori_shape``, ``img_shape``;
                what the grounding reads, e.g. ``gt_mplus``).
            on_frame: ``on_frame(k, t, mask, object_score)`` with mask bool (H, W) on the CPU at
                the sample's ``ori_shape``, called in processing order.
            grounding: this call's grounding (:meth:`build_grounding`: a name, a config or a
                strategy); None: the model's own. The model is not changed, so calls with
                different groundings may run at the same time.

        Returns:
            the K grounding results (``mplus`` (T,), TAM ``frame_scores``) and the encoder
            work counts (``trunk_frames``: image-encoder passes; ``raw_frames``: frames through
            the rest of the encoder on the shared F_SAM path; ``adapted_frames``: frames on the
            adapter path, summed over the sentences: that work depends on the sentence and is
            never shared).
        """
        grounding = self.build_grounding(grounding)
        shared = SharedFrameFeatures(self.image_backbone, self.neck, load,
                                     self.shared_cache_frames)
        frame_scores = self.tam_scores(shared, self.tokenize(list(samples)), num_frames) \
            if self.tam is not None else [None] * len(samples)
        grounded = [grounding(s, f) for s, f in zip(samples, frame_scores)]
        groups = same_mplus_groups([result.mplus for result in grounded])
        runs = []
        adapted_frames = 0
        for group in groups:
            mplus = grounded[group[0]].mplus.to(self.data_preprocessor.device)
            adapt = self.head.adapted_frames(mplus).cpu()
            adapted_frames += int(adapt.sum()) * len(group)
            tok = self.tokenize([samples[k] for k in group])
            source = ChunkedFeatures(adapt, partial(self._encode_chunk, shared, tok),
                                     self.chunk_size, batch=len(group))
            order = [step.frame for step in self.head.plan(mplus)]
            runs.append((self.head.iter_video(source, mplus, text_prompt=source.prompt), order))
        for g, t, out in interleave(runs):
            for row, k in enumerate(groups[g]):
                meta = samples[k].metainfo
                logits = postprocess_mask_logits(out['mask_logits'][row:row + 1],
                                                 self.head.image_size, meta['img_shape'],
                                                 meta['ori_shape'])
                on_frame(k, t, (logits[0] > self.mask_threshold).cpu(),
                         float(out['object_score_logits'][row].reshape(())))
        return grounded, dict(shared.counts(), adapted_frames=adapted_frames)

    def _encode_chunk(self, shared: SharedFrameFeatures, tokens: dict[str, Tensor],
                      frames: list[int], adapted: bool) -> tuple[dict, Tensor | None]:
        """Features (and prompt) of a chunk of n frames on one path for the K sentences of
        ``tokens`` (K rows): from the shared trunk (M+: K * n rows, sentence-major, and the
        (K, P, C) prompt) or the shared F_SAM (M-: n rows, whatever K)."""
        if not adapted:
            return shared.raw(frames), None
        enc = self.encode_adapted_chunk(shared.trunk(frames), tokens, frames)
        return enc.image_feats, self.text_prompt(enc.text_feats, tokens)


def same_mplus_groups(mplus: Sequence[Tensor]) -> list[list[int]]:
    """Sentences with the same M+ flags (each bool (T,)), which share their chunks and the
    head's plan and so run as one batch: lists of sentence indices, each increasing, ordered by
    first index."""
    groups: dict[tuple, list[int]] = {}
    for k, flags in enumerate(mplus):
        groups.setdefault(tuple(torch.as_tensor(flags).bool().reshape(-1).tolist()), []).append(k)
    return list(groups.values())


def same_video_groups(inputs: Tensor, samples: Sequence[VideoDataSample]) -> list[list[int]]:
    """Rows of a test batch (B, T, 3, S, S) grouped by video: same ``video_id`` and the same
    frames (checked), in order of first appearance."""
    groups: list[list[int]] = []
    for i, sample in enumerate(samples):
        vid = sample.metainfo.get('video_id')
        for rows in groups:
            j = rows[0]
            if vid is not None and samples[j].metainfo.get('video_id') == vid and \
                    torch.equal(inputs[i], inputs[j]):
                rows.append(i)
                break
        else:
            groups.append([i])
    return groups


def interleave(runs: Sequence[tuple[Iterator[tuple[int, Any]], Sequence[int]]]
               ) -> Iterator[tuple[int, int, Any]]:
    """Step several per-sentence iterators, always the one whose next planned frame is the
    earliest (ties: the lower index), so that sentences move through the video together.

    Args:
        runs: per sentence, an iterator of ``(t, output)`` and the frames it will yield, in
            order (its plan).

    Yields:
        ``(k, t, output)``.
    """
    heap = [(order[0], k, 0) for k, (_, order) in enumerate(runs) if len(order)]
    heapq.heapify(heap)
    while heap:
        _, k, i = heapq.heappop(heap)
        iterator, order = runs[k]
        t, out = next(iterator)
        if t != order[i]:
            raise RuntimeError(f'sentence {k}: frame {t} came where the plan has {order[i]}')
        yield k, t, out
        if i + 1 < len(order):
            heapq.heappush(heap, (order[i + 1], k, i + 1))


__all__ = ['StreamingInferenceMixin', 'same_video_groups', 'same_mplus_groups', 'interleave']
