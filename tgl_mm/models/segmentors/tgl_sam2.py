"""TGL on SAM2: the model composing encoders, adapter, prompt, MDP head and losses.

The model is split by concept: this module builds and checks the parts and encodes frames and
sentences; the training forward is :mod:`~tgl_mm.models.segmentors.training_forward`, the
streaming inference (chunk scheduling, the inference interface
:class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor`) is
:mod:`~tgl_mm.models.segmentors.streaming_inference`, and what the TAM reads is
:mod:`~tgl_mm.models.segmentors.tam_features`. Their public names (``interleave``,
``same_video_groups``, ``sampled_frame_index``, ``TAMInputs``) are also importable from here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModel
from torch import Tensor

from tgl_mm.models.necks.lockstep_encoder import pool_frame_features, raw_from_trunk
from tgl_mm.models.segmentors.streaming_inference import (
    StreamingInferenceMixin,
    interleave,
    same_video_groups,
)
from tgl_mm.models.segmentors.tam_features import TAMFeaturesMixin, TAMInputs
from tgl_mm.models.segmentors.training_forward import ClipTrainingMixin, sampled_frame_index
from tgl_mm.models.utils.part_checkpoint import load_model_parts
from tgl_mm.registry import MODELS
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


@MODELS.register_module()
class TGLSAM2(ClipTrainingMixin, StreamingInferenceMixin, TAMFeaturesMixin, BaseModel):
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
    bounded memory; masks are returned at the original frame size. The inference API and the
    demo app use the :class:`~tgl_mm.models.segmentors.inference_interface.StreamingSegmentor`
    members (``input_size``, ``normalize``, ``has_tam``, ``build_grounding``,
    ``predict_expressions`` with a per-call grounding, ...).

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
            other sentences of a video, default ``4 * chunk_size``; 0 disables sharing between
            sentences that do not run as one batch: sentences with the same M+ frames always
            do, see :meth:`predict_expressions`).
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
        self._grounding_cfg = dict(test_cfg.get('grounding', dict(type='oracle')))
        #: the configured grounding (what :meth:`predict` runs); a request passes its own to
        #: :meth:`predict_expressions` instead of changing this
        self.grounding = self.build_grounding(self._grounding_cfg)
        self.chunk_size = int(test_cfg.get('chunk_size', 8))
        self.mask_threshold = float(test_cfg.get('mask_threshold', 0.0))
        self.shared_cache_frames = int(test_cfg.get('shared_cache_frames', 4 * self.chunk_size))
        #: encoder work of :meth:`predict` since construction (``trunk_frames``: image-encoder
        #: passes, ``raw_frames``, ``adapted_frames`` (see :meth:`predict_expressions`),
        #: ``expressions``); read by benchmarks, reset by assignment
        self.encoder_counts = dict(trunk_frames=0, raw_frames=0, adapted_frames=0,
                                   expressions=0)
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

    def encode_adapted_chunk(self, trunk: list[Tensor], tokens: dict[str, Tensor],
                             frames: Sequence[int]) -> Encoded:
        """K sentences over one chunk of n frames of a video, all on the adapter path, as one
        batch of K clips (the chunk's trunk repeated for each sentence).

        Args:
            trunk: the chunk's :func:`encode_trunk` outputs, n rows each.
            tokens: :meth:`tokenize` output of the K sentences.
            frames: the n frames' indices in the video (HSA's time embedding).

        Returns:
            :class:`Encoded` of K * n frames (sentence-major) and K sentences.
        """
        device = self.data_preprocessor.device
        batch = tokens['input_ids'].shape[0]
        flags = torch.ones((batch, len(frames)), dtype=torch.bool, device=device)
        if batch > 1:
            trunk = [x.repeat(batch, *(1,) * (x.dim() - 1)) for x in trunk]
        return self.encode(None, tokens, flags, trunk=trunk,
                           frame_index=torch.tensor([list(frames)] * batch, device=device))

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


__all__ = ['TGLSAM2', 'Encoded', 'TAMInputs', 'interleave', 'same_video_groups',
           'sampled_frame_index']
