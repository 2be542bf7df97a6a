"""TGL on SAM2: the model composing encoders, adapter, prompt, MDP head and losses."""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModel
from torch import Tensor

from tgl_mm.models.grounding.base import GroundingResult
from tgl_mm.models.heads.mdp_head import postprocess_mask_logits, upsample_mask_logits
from tgl_mm.models.necks.lockstep_encoder import pool_frame_features, raw_from_trunk
from tgl_mm.models.segmentors.chunked_features import ChunkedFeatures, path_chunks
from tgl_mm.models.segmentors.shared_features import FrameLoader, SharedFrameFeatures
from tgl_mm.models.utils.part_checkpoint import load_model_parts
from tgl_mm.registry import GROUNDINGS, MODELS
from tgl_mm.structures import VideoDataSample


@dataclass
class Encoded:
    """Encoder outputs for B expressions of T frames (N = B * T rows, video-major).

    Attributes:
        image_feats: image-encoder output dict for the N frames (F_Adp on adapted frames, F_SAM
            on the others).
        text_feats: (B, L, D) text features (E_Adp with an adapter, the plain last layer
            without).
        frame_embeds: (B, T, 2C) spatially pooled ``vision_features`` (mean and max; TAM input).
    """

    image_feats: dict
    text_feats: Tensor
    frame_embeds: Tensor


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


@MODELS.register_module()
class TGLSAM2(BaseModel):
    """Temporally Grounded Learning on SAM2 (paper §4, A.2.2, A.3).

    Training (``mode='loss'``) on a clip of T frames with its moment flags ``gt_mplus``:
    lockstep encoding (frozen SAM2 image encoder and text encoder joined by the cross-modal
    adapter; F_Adp on M+ frames, F_SAM on M- frames) → text prompt ``rho`` from E_Adp →
    :class:`MDPHead` over the clip (prompt on M+ frames, memory written by M+ frames) →
    :class:`OSSLoss` on the OSS-filtered targets. A TAM is not trained here (its parameters
    are frozen in this model): ``tools/train_tam.py`` trains it afterwards on the trained model's
    features of whole videos, as it is used (:mod:`tgl_mm.engine.tam_training`).

    Inference (``mode='predict'``) on a whole video: a grounding strategy (``test_cfg.grounding``,
    a ``GROUNDINGS`` config: oracle, none, moment file, keyframes, hybrid, TAM) decides M+; the
    frames are encoded lazily in chunks of ``test_cfg.chunk_size`` frames of the same path (see
    :mod:`~tgl_mm.models.segmentors.chunked_features`) while the head tracks frame by frame with
    bounded memory; masks are returned at the original frame size.

    Args:
        image_backbone: ``SAM2ImageEncoder`` config (frozen).
        text_backbone: ``HFTextEncoder`` config (frozen).
        neck: ``CrossModalAdapter`` config, or None to run without adapter (plain SAM2 features on
            every frame; with ``prompt=None`` too this is SAM2 itself, see the parity test).
        prompt: ``TextPrompt`` config, or None (no text prompt).
        head: ``MDPHead`` config.
        loss: ``OSSLoss`` config.
        tam: ``TemporalAlignmentModule`` config, or None (frozen here, see above).
        data_preprocessor: defaults to ``VideoDataPreprocessor``.
        pretrained: ``dict(checkpoint=..., checkpoint_sha256=..., allow_missing=...)``: a parts
            checkpoint (:mod:`~tgl_mm.models.utils.part_checkpoint`, e.g. the adapter, prompt and
            head of a referring-image pretraining) loaded by :meth:`init_weights` on top of the
            parts' own initialisation (SHA-256 checked when given). Loading is strict per part;
            ``allow_missing`` lists model key prefixes the file may lack, which then keep their
            initialisation (e.g. the adapter's HSA, ``'neck.layers.0.hsa.'`` ..., when the
            stage was trained without it, as SAMWISE's RefCOCO pretraining); None: no such
            stage.
        train_cfg: unused keys are rejected; none are needed today.
        test_cfg: ``grounding`` (GROUNDINGS config, default ``dict(type='oracle')``),
            ``chunk_size`` (frames encoded together at inference, default 8),
            ``mask_threshold`` (logit threshold, default 0.0),
            ``shared_cache_frames`` (frames of sentence-independent encoder work kept for the
            other sentences of a video, default ``4 * chunk_size``; 0 disables sharing).
        init_cfg: mmengine init config.
    """

    def __init__(self, image_backbone: dict, text_backbone: dict, neck: dict | None,
                 prompt: dict | None, head: dict, loss: dict, tam: dict | None = None,
                 data_preprocessor: dict | None = None, pretrained: dict | None = None,
                 train_cfg: dict | None = None, test_cfg: dict | None = None,
                 init_cfg: dict | list | None = None) -> None:
        # built from our registry, so the model also builds outside a tgl_mm default scope
        preprocessor = data_preprocessor or dict(type='VideoDataPreprocessor')
        if isinstance(preprocessor, dict):
            preprocessor = MODELS.build(preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.image_backbone = MODELS.build(image_backbone)
        self.text_backbone = MODELS.build(text_backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.prompt = MODELS.build(prompt) if prompt is not None else None
        self.head = MODELS.build(head)
        self.loss_module = MODELS.build(loss)
        self.tam = MODELS.build(tam) if tam is not None else None
        if self.tam is not None:  # trained by tools/train_tam.py, never by the segmentation loss
            self.tam.requires_grad_(False)
        self.pretrained = dict(pretrained) if pretrained else None
        if self.pretrained is not None and (
                set(self.pretrained) - {'checkpoint', 'checkpoint_sha256', 'allow_missing'}
                or 'checkpoint' not in self.pretrained):
            raise ValueError(f'TGLSAM2.pretrained needs checkpoint (and optionally '
                             f'checkpoint_sha256, allow_missing), got keys '
                             f'{sorted(self.pretrained)}')
        if train_cfg:
            raise ValueError(f'TGLSAM2.train_cfg takes no keys today, got {sorted(train_cfg)}')
        test_cfg = dict(test_cfg or {})
        unknown = set(test_cfg) - {'grounding', 'chunk_size', 'mask_threshold',
                                   'shared_cache_frames'}
        if unknown:
            raise ValueError(f'TGLSAM2.test_cfg: unknown keys {sorted(unknown)}')
        self.grounding = GROUNDINGS.build(test_cfg.get('grounding', dict(type='oracle')))
        self.chunk_size = int(test_cfg.get('chunk_size', 8))
        self.mask_threshold = float(test_cfg.get('mask_threshold', 0.0))
        self.shared_cache_frames = int(test_cfg.get('shared_cache_frames', 4 * self.chunk_size))
        #: encoder work of :meth:`predict` since construction (``trunk_frames``: image-encoder
        #: passes, ``raw_frames``, ``adapted_frames`` (see :meth:`predict_expressions`),
        #: ``expressions``); read by benchmarks, reset by assignment
        self.encoder_counts = dict(trunk_frames=0, raw_frames=0, adapted_frames=0,
                                   expressions=0)
        if self.grounding.needs_frame_scores and self.tam is None:
            raise ValueError(f'grounding {type(self.grounding).__name__} needs a TAM: set '
                             'model.tam')
        self._check_dims()

    # --- construction checks -------------------------------------------------------------------
    def _check_dims(self) -> None:
        img, head = self.image_backbone, self.head
        if img.image_size != head.image_size:
            raise ValueError(f'image_backbone.image_size={img.image_size} differs from '
                             f'head.image_size={head.image_size}')
        if img.hidden_dim != head.hidden_dim:
            raise ValueError(f'image_backbone hidden dim {img.hidden_dim} differs from the head '
                             f'hidden dim {head.hidden_dim} (same SAM2 arch needed)')
        text_dim = self.text_backbone.hidden_size
        if self.neck is not None and self.neck.text_dim != text_dim:
            raise ValueError(f'neck.text_dim={self.neck.text_dim} but the text encoder has '
                             f'hidden size {text_dim}')
        if self.prompt is not None:
            if self.prompt.text_dim != text_dim:
                raise ValueError(f'prompt.text_dim={self.prompt.text_dim} but the text encoder '
                                 f'has hidden size {text_dim}')
            if self.prompt.prompt_dim != head.hidden_dim:
                raise ValueError(f'prompt.prompt_dim={self.prompt.prompt_dim} must equal the SAM2 '
                                 f'hidden dim {head.hidden_dim}')
        if self.tam is not None and (self.tam.in_channels != 2 * head.hidden_dim
                                     or self.tam.text_dim != text_dim):
            # frame features: mean and max of the SAM2 hidden features (pool_frame_features)
            raise ValueError(f'tam expects in_channels={2 * head.hidden_dim} and '
                             f'text_dim={text_dim}, got {self.tam.in_channels} and '
                             f'{self.tam.text_dim}')

    def init_weights(self) -> None:
        """Initialise (then load the ``pretrained`` parts), then report the trainable-parameter
        budget (paper: ~17M, 8.4%)."""
        super().init_weights()
        if self.pretrained is not None:
            parts = load_model_parts(self, self.pretrained['checkpoint'],
                                     self.pretrained.get('checkpoint_sha256'),
                                     allow_missing=self.pretrained.get('allow_missing', ()))
            print_log(f'TGLSAM2: loaded {list(parts)} from {self.pretrained["checkpoint"]}',
                      logger='current')
        self.log_parameter_counts()

    def parameter_counts(self) -> dict[str, tuple[int, int]]:
        """``{part: (trainable, total)}`` parameter counts, plus ``'all'``."""
        parts = dict(image_backbone=self.image_backbone, text_backbone=self.text_backbone,
                     neck=self.neck, prompt=self.prompt, head=self.head, tam=self.tam)
        counts = {}
        for name, module in parts.items():
            if module is None:
                continue
            params = list(module.parameters())
            counts[name] = (sum(p.numel() for p in params if p.requires_grad),
                            sum(p.numel() for p in params))
        counts['all'] = (sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
        return counts

    def log_parameter_counts(self) -> None:
        counts = self.parameter_counts()
        trainable, total = counts.pop('all')
        parts = ', '.join(f'{k} {t / 1e6:.2f}M/{n / 1e6:.2f}M' for k, (t, n) in counts.items())
        MMLogger.get_current_instance().info(
            f'TGLSAM2 trainable parameters: {trainable / 1e6:.2f}M of {total / 1e6:.2f}M '
            f'({100 * trainable / max(total, 1):.1f}%); trainable/total per part: {parts}')

    # --- encoding ------------------------------------------------------------------------------
    def tokenize(self, samples: list[VideoDataSample]) -> dict[str, Tensor]:
        return self.text_backbone.tokenize([s.metainfo['text'] for s in samples],
                                           device=self.data_preprocessor.device)

    def encode(self, images: Tensor | None, tokens: dict[str, Tensor], adapt: Tensor,
               trunk: list[Tensor] | None = None, frame_index: Tensor | None = None) -> Encoded:
        """Encode B clips of T frames.

        Args:
            images: (B * T, 3, S, S) normalised frames, video-major (None with ``trunk``).
            tokens: :meth:`HFTextEncoder.tokenize` output for the B expressions.
            adapt: bool (B, T) frames on the adapter path.
            trunk: the frames' shared-stage outputs
                (:func:`~tgl_mm.models.necks.lockstep_encoder.encode_trunk`), if already
                computed (e.g. for another sentence on the same frames).
            frame_index: long (B, T) the frames' indices in their videos (the adapter's HSA
                time embedding); None: 0 .. T-1.
        """
        batch, steps = adapt.shape
        if self.neck is None:
            feats = self.image_backbone(images) if trunk is None else \
                raw_from_trunk(self.image_backbone, trunk)
            text = self.text_backbone(tokens['input_ids'], tokens['attention_mask'])[-1]
            pooled = pool_frame_features(feats['vision_features']).reshape(batch, steps, -1)
            return Encoded(feats, text, pooled)
        out = self.neck(self.image_backbone, self.text_backbone, images, tokens['input_ids'],
                        tokens['attention_mask'], adapt, trunk=trunk, frame_index=frame_index)
        return Encoded(out.image_feats, out.text_feats, out.frame_embeds)

    def text_prompt(self, text_feats: Tensor, tokens: dict[str, Tensor]) -> Tensor | None:
        """(B, P, C) sparse prompt tokens, or None without a prompt module."""
        if self.prompt is None:
            return None
        return self.prompt(text_feats, tokens['content_mask'], tokens.get('motion_mask'))

    # --- BaseModel API -------------------------------------------------------------------------
    def val_step(self, data: dict | tuple | list) -> list:
        """Predict without normalising the whole video up front: the uint8 frames are stacked
        and :meth:`predict` normalises them chunk by chunk as the encoders need them."""
        return self.predict(self.data_preprocessor.collate(data), data.get('data_samples'))

    def test_step(self, data: dict | tuple | list) -> list:
        """See :meth:`val_step`."""
        return self.val_step(data)

    def forward(self, inputs: Tensor, data_samples: list[VideoDataSample] | None = None,
                mode: str = 'tensor') -> Any:
        """Args:
            inputs: (B, T, 3, S, S) normalised clips (from :class:`VideoDataPreprocessor`).
            data_samples: one :class:`VideoDataSample` per clip.
            mode: ``'loss'``, ``'predict'`` or ``'tensor'`` (head outputs of the clip).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward_clip(inputs, data_samples)[0]
        raise ValueError(f'TGLSAM2.forward: unknown mode {mode!r}')

    def _forward_clip(self, inputs: Tensor, data_samples: list[VideoDataSample]
                      ) -> tuple[dict, Tensor]:
        """Head outputs for training clips and their M+ flags (B, T)."""
        batch, steps = inputs.shape[:2]
        if data_samples is None or len(data_samples) != batch:
            raise ValueError('TGLSAM2 needs one data sample per clip')
        mplus = torch.stack([s.gt_mplus for s in data_samples]).to(inputs.device)
        if mplus.shape != (batch, steps):
            raise ValueError(f'gt_mplus of the batch is {tuple(mplus.shape)}, clips are '
                             f'{(batch, steps)}')
        tokens = self.tokenize(data_samples)
        enc = self.encode(inputs.flatten(0, 1), tokens, self.head.adapted_frames(mplus),
                          frame_index=sampled_frame_index(data_samples, steps, inputs.device))
        prompt = self.text_prompt(enc.text_feats, tokens)
        return self.head(enc.image_feats, mplus, prompt), mplus

    def loss(self, inputs: Tensor, data_samples: list[VideoDataSample]) -> dict[str, Tensor]:
        """OSS loss on the clip. ``gt_masks`` are (T, S, S) per sample."""
        out, mplus = self._forward_clip(inputs, data_samples)
        size = inputs.shape[-1]
        batch, steps = mplus.shape
        logits = upsample_mask_logits(out['mask_logits_ungated'].flatten(0, 1), size)
        logits = logits.reshape(batch, steps, size, size)
        targets = torch.stack([s.gt_masks for s in data_samples]).to(logits.device)
        if targets.shape != logits.shape:
            raise ValueError(f'gt_masks of the batch are {tuple(targets.shape)}, predictions '
                             f'{tuple(logits.shape)}: training targets must be resized and '
                             'padded like the frames')
        scores = out['object_score_logits'].reshape(batch, steps)
        losses = self.loss_module(logits, targets, scores)
        return losses

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
                            on_frame: Callable[[int, int, Tensor, float], None]
                            ) -> tuple[list[GroundingResult], dict[str, int]]:
        """Segment K expressions of one video side by side, streaming.

        Frames are loaded (:data:`FrameLoader`) only when a chunk is encoded, and each mask is
        handed to ``on_frame`` as soon as it exists, so nothing here grows with the video
        length. The work that does not depend on the sentence (the encoder trunk, F_SAM of M-
        frames) is shared through a bounded :class:`SharedFrameFeatures` cache; to keep the
        sentences near the same frames, the next frame is always taken from the sentence whose
        next planned frame is earliest (:func:`interleave`). Each sentence's masks equal a run
        of that sentence alone.

        Args:
            load: frames of the video by index, normalised (n, 3, S, S).
            num_frames: T.
            samples: K samples of the video (metainfo ``text``, ``ori_shape``, ``img_shape``;
                what the grounding reads, e.g. ``gt_mplus``).
            on_frame: ``on_frame(k, t, mask, object_score)`` with mask bool (H, W) on the CPU at
                the sample's ``ori_shape``, called in processing order.

        Returns:
            the K grounding results (``mplus`` (T,), TAM ``frame_scores``) and the encoder
            work counts (``trunk_frames``: image-encoder passes; ``raw_frames``: frames through
            the rest of the encoder on the shared F_SAM path; ``adapted_frames``: frames on the
            adapter path, summed over the sentences: that work depends on the sentence and is
            never shared).
        """
        shared = SharedFrameFeatures(self.image_backbone, self.neck, load,
                                     self.shared_cache_frames)
        tokens = [self.tokenize([s]) for s in samples]
        frame_scores = self.tam_scores(shared, tokens, num_frames) if self.tam is not None \
            else [None] * len(samples)
        grounded = [self.grounding(s, f) for s, f in zip(samples, frame_scores)]
        runs = []
        adapted_frames = 0
        for tok, result in zip(tokens, grounded):
            mplus = result.mplus.to(self.data_preprocessor.device)
            adapt = self.head.adapted_frames(mplus).cpu()
            adapted_frames += int(adapt.sum())
            source = ChunkedFeatures(adapt, partial(self._encode_chunk, shared, tok),
                                     self.chunk_size)
            order = [step.frame for step in self.head.plan(mplus)]
            runs.append((self.head.iter_video(source, mplus, text_prompt=source.prompt), order))
        for k, t, out in interleave(runs):
            meta = samples[k].metainfo
            logits = postprocess_mask_logits(out['mask_logits'], self.head.image_size,
                                             meta['img_shape'], meta['ori_shape'])
            on_frame(k, t, (logits[0] > self.mask_threshold).cpu(),
                     float(out['object_score_logits'].reshape(())))
        return grounded, dict(shared.counts(), adapted_frames=adapted_frames)

    def _encode_chunk(self, shared: SharedFrameFeatures, tokens: dict[str, Tensor],
                      frames: list[int], adapted: bool) -> tuple[dict, Tensor | None]:
        """Features (and prompt) of a chunk of frames on one path, from the shared trunk (M+)
        or the shared F_SAM (M-)."""
        if not adapted:
            return shared.raw(frames), None
        device = self.data_preprocessor.device
        flags = torch.ones((1, len(frames)), dtype=torch.bool, device=device)
        enc = self.encode(None, tokens, flags, trunk=shared.trunk(frames),
                          frame_index=torch.tensor([frames], device=device))
        prompt = self.text_prompt(enc.text_feats, tokens)
        return enc.image_feats, None if prompt is None else prompt[0]

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


def sampled_frame_index(samples: Sequence[VideoDataSample], steps: int,
                        device: torch.device | str | None = None) -> Tensor:
    """long (B, T): each training clip's frame indices in its video (``frame_inds`` of the
    sampler), or 0 .. T-1 for a sample without them."""
    rows = []
    for sample in samples:
        inds = sample.metainfo.get('frame_inds')
        if inds is None:
            inds = range(steps)
        elif len(inds) != steps:
            raise ValueError(f'sample {sample.metainfo.get("video_id")!r} (expression '
                             f'{sample.metainfo.get("exp_id")!r}) has {len(inds)} frame_inds '
                             f'for a clip of {steps} frames')
        rows.append([int(t) for t in inds])
    return torch.tensor(rows, dtype=torch.long, device=device).reshape(len(samples), steps)


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

__all__ = ['TGLSAM2', 'Encoded', 'TAMInputs', 'interleave', 'same_video_groups',
           'sampled_frame_index']
