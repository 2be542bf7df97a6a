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
    ``encode``, ``tokenize``, ``frame_loader``, ``tam``, ``chunk_size`` and
    ``shared_cache_frames``)."""

    def tam_inputs(self, shared: SharedFrameFeatures, tokens: Sequence[dict[str, Tensor]],
                   num_frames: int) -> list[TAMInputs]:
        """What the TAM reads for each sentence over a whole video: every frame on the adapter
        path, encoded clip by clip (``chunk_size`` frames; the trunk of each clip computed once
        for all sentences). The adapted text E_Adp of a clip depends on its frames: the video's
        is the mean over its clips, weighted by their lengths."""
        chunks, _ = path_chunks(torch.ones(num_frames, dtype=torch.bool), self.chunk_size)
        device = self.data_preprocessor.device
        frames = [[] for _ in tokens]
        texts = [0.0 for _ in tokens]
        for chunk in chunks:
            trunk = shared.trunk(chunk)
            flags = torch.ones((1, len(chunk)), dtype=torch.bool, device=device)
            index = torch.tensor([chunk], device=device)
            for k, tok in enumerate(tokens):
                enc = self.encode(None, tok, flags, trunk=trunk, frame_index=index)
                frames[k].append(enc.frame_embeds[0])
                texts[k] = texts[k] + enc.text_feats[0] * (len(chunk) / num_frames)
        return [TAMInputs(torch.cat(f), t, tok['attention_mask'][0].bool())
                for f, t, tok in zip(frames, texts, tokens)]

    @torch.no_grad()
    def video_tam_inputs(self, frames: Tensor, samples: Sequence[VideoDataSample]
                         ) -> list[TAMInputs]:
        """:meth:`tam_inputs` of one video (T, 3, S, S) (normalised float or uint8) for each
        sample's sentence: the features ``tools/train_tam.py`` trains the TAM on."""
        shared = SharedFrameFeatures(self.image_backbone, self.neck, self.frame_loader(frames),
                                     self.shared_cache_frames)
        return self.tam_inputs(shared, [self.tokenize([s]) for s in samples], frames.shape[0])

    def tam_scores(self, shared: SharedFrameFeatures, tokens: Sequence[dict[str, Tensor]],
                   num_frames: int) -> list[Tensor]:
        """TAM relevance logits (T,) for each sentence, centred on the TAM's calibrated
        threshold (:meth:`TemporalAlignmentModule.relevance`). The TAM sees the whole video at
        once (:meth:`tam_inputs`), as ``tools/train_tam.py`` trains it, so every frame's score
        has the context of the frames of every chunk."""
        assert self.tam is not None
        return [self.tam.relevance(x.frame_embeds[None], x.text_feats[None], x.text_mask[None])[0]
                for x in self.tam_inputs(shared, tokens, num_frames)]


__all__ = ['TAMInputs', 'TAMFeaturesMixin']
