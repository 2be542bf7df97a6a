"""What the Temporal Alignment Module reads: :class:`TAMInputs` of a whole video, from the
segmentor's own adapted features (used at inference by TAM grounding, and by
``tools/train_tam.py`` to train the TAM on the features it will see)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from tgl_mm.models.segmentors.chunked_features import path_chunks
from tgl_mm.models.segmentors.shared_features import SharedFrameFeatures
from tgl_mm.structures import VideoDataSample


@dataclass
class TAMInputs:
    """The TAM's input for one sentence over a whole video.

    Attributes:
        frame_embeds: (T, 2C) pooled adapted frame features F_Adp (mean and max).
        text_feats: (L, D) adapted text features E_Adp (mean over the video's clips).
        text_mask: bool (L,) real tokens.
    """

    frame_embeds: Tensor
    text_feats: Tensor
    text_mask: Tensor


class TAMFeaturesMixin:
    """TAM inputs and scores of :class:`~tgl_mm.models.segmentors.TGLSAM2` (uses its
    ``encode_adapted_chunk``, ``tokenize``, ``frame_loader``, ``tam``, ``chunk_size`` and
    ``shared_cache_frames``)."""

    def tam_inputs(self, shared: SharedFrameFeatures, tokens: dict[str, Tensor],
                   num_frames: int) -> list[TAMInputs]:
        """What the TAM reads for each of K sentences over a whole video: every frame on the
        adapter path, encoded clip by clip (``chunk_size`` frames; the trunk of each clip
        computed once, the K sentences run as one batch). The adapted text E_Adp of a clip
        depends on its frames: the video's is the mean over its clips, weighted by their
        lengths.

        Args:
            shared: the video's shared frame features.
            tokens: :meth:`tokenize` output of the K sentences (K, L), right-padded.
            num_frames: T.
        """
        chunks, _ = path_chunks(torch.ones(num_frames, dtype=torch.bool), self.chunk_size)
        frames, text = [], 0.0
        for chunk in chunks:
            enc = self.encode_adapted_chunk(shared.trunk(chunk), tokens, chunk)
            frames.append(enc.frame_embeds)                         # (K, n, 2C)
            text = text + enc.text_feats * (len(chunk) / num_frames)  # (K, L, D)
        frames = torch.cat(frames, 1)
        lengths = tokens['attention_mask'].sum(1).tolist()
        return [TAMInputs(frames[k], text[k, :n], tokens['attention_mask'][k, :n].bool())
                for k, n in enumerate(lengths)]

    @torch.no_grad()
    def video_tam_inputs(self, frames: Tensor, samples: Sequence[VideoDataSample]
                         ) -> list[TAMInputs]:
        """:meth:`tam_inputs` of one video (T, 3, S, S) (normalised float or uint8) for each
        sample's sentence: the features ``tools/train_tam.py`` trains the TAM on."""
        shared = SharedFrameFeatures(self.image_backbone, self.neck, self.frame_loader(frames),
                                     self.shared_cache_frames)
        return self.tam_inputs(shared, self.tokenize(list(samples)), frames.shape[0])

    def tam_scores(self, shared: SharedFrameFeatures, tokens: dict[str, Tensor],
                   num_frames: int) -> list[Tensor]:
        """TAM relevance logits (T,) for each of the K sentences of ``tokens`` (K, L), centred
        on the TAM's calibrated threshold (:meth:`TemporalAlignmentModule.relevance`). The TAM
        sees the whole video at once (:meth:`tam_inputs`), as ``tools/train_tam.py`` trains it,
        so every frame's score has the context of the frames of every chunk."""
        assert self.tam is not None
        return [self.tam.relevance(x.frame_embeds[None], x.text_feats[None], x.text_mask[None])[0]
                for x in self.tam_inputs(shared, tokens, num_frames)]


__all__ = ['TAMInputs', 'TAMFeaturesMixin']
