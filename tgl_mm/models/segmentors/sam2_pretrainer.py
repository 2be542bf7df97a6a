"""Stage 0: pretrain SAM2 for class-agnostic, mask-prompted video object segmentation (no text).

The paper fine-tunes a SAM2 that already tracks (pretrained on SA-V). No such weights exist for the
CPU-sized ``tiny`` SAM2, so stage 0 trains one the way SAM2 is trained: the ground-truth mask of an
object on the first frame of a clip is the prompt (a conditioning frame, SAM2's
``use_mask_input_as_output_without_sam``), every later frame is segmented from memory alone, every
frame writes memory, and the loss is on the later frames. Added for training from scratch: the
memory correspondence loss (:mod:`tgl_mm.models.losses.correspondence_loss`).

The trained image encoder and SAM2 parts are saved in the official SAM2 checkpoint layout
(:func:`export_sam2_checkpoint`), so the TGL configs load them exactly as they load SAM2's own
weights (``image_backbone.checkpoint`` / ``head.checkpoint``).
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from tgl_mm.models.heads.mdp_head import (
    postprocess_mask_logits,
    slice_features,
    upsample_mask_logits,
)
from tgl_mm.models.heads.memory_bank import spatial_memory_frames
from tgl_mm.models.losses.correspondence_loss import MemoryAttentionRecorder
from tgl_mm.models.utils.sam2_checkpoint import IMAGE_ENCODER_PREFIX
from tgl_mm.registry import MODELS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils.fileio import atomic_path


def first_visible_frame(masks: Tensor) -> int | None:
    """Index of the first frame of bool (T, H, W) masks with a foreground pixel, or None."""
    visible = torch.nonzero(masks.flatten(1).any(1))
    return int(visible[0]) if len(visible) else None


def prompt_mask(mask: Tensor, img_shape: tuple[int, int], size: int) -> Tensor:
    """A ground-truth mask (H, W) at the original size as a model-input prompt (S, S): resized
    to the valid region ``img_shape`` and zero-padded bottom/right like the frames."""
    h, w = img_shape
    resized = F.interpolate(mask[None, None].float(), size=(h, w), mode='bilinear',
                            align_corners=False)[0, 0] >= 0.5
    out = torch.zeros(size, size, dtype=torch.bool)
    out[:h, :w] = resized
    return out


@MODELS.register_module()
class SAM2Pretrainer(BaseModel):
    """SAM2 (image encoder + MDP head) trained for mask-prompted tracking (see module doc).

    Training (``mode='loss'``) on clips of T frames: ``gt_masks`` (B, T, S, S) the target (its
    frame-0 mask is the prompt), ``gt_object_masks`` every object of the clip (for the
    correspondence loss). Inference (``mode='predict'``) on whole videos: the target's
    ground-truth mask on its first visible frame is the prompt; the later frames are tracked
    (``test_cfg.memory=False`` gives each of them no memory at all, the ablation); earlier
    frames are left empty. Fills ``pred_masks`` (T, H, W) and metainfo ``prompt_frame``.

    Args:
        image_backbone: ``SAM2ImageEncoder`` config (``frozen=False`` to train it).
        head: ``MDPHead`` config; use ``memory_from='all'``, ``order='temporal'`` (SAM2's
            propagation) and ``frozen_parts=()``.
        loss: mask loss config (``OSSLoss``: focal + Dice + object score) on frames 1..T-1.
        correspondence_loss: ``MemoryCorrespondenceLoss`` config or None.
        data_preprocessor: defaults to ``VideoDataPreprocessor``.
        test_cfg: ``memory`` (True), ``mask_threshold`` (0.0).
        init_cfg: mmengine init config.
    """

    def __init__(self, image_backbone: dict, head: dict, loss: dict,
                 correspondence_loss: dict | None = None, data_preprocessor: dict | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | list | None = None) -> None:
        preprocessor = MODELS.build(data_preprocessor or dict(type='VideoDataPreprocessor'))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.image_backbone = MODELS.build(image_backbone)
        self.head = MODELS.build(head)
        if self.image_backbone.image_size != self.head.image_size:
            raise ValueError(f'image_backbone.image_size={self.image_backbone.image_size} '
                             f'differs from head.image_size={self.head.image_size}')
        self.loss_module = MODELS.build(loss)
        self.correspondence_loss = (MODELS.build(correspondence_loss)
                                    if correspondence_loss is not None else None)
        self.recorder = (MemoryAttentionRecorder(self.head.sam2.memory_attention)
                         if self.correspondence_loss is not None else None)
        test_cfg = dict(test_cfg or {})
        unknown = set(test_cfg) - {'memory', 'mask_threshold'}
        if unknown:
            raise ValueError(f'SAM2Pretrainer.test_cfg: unknown keys {sorted(unknown)}')
        self.use_memory = bool(test_cfg.get('memory', True))
        self.mask_threshold = float(test_cfg.get('mask_threshold', 0.0))

    def forward(self, inputs: Tensor, data_samples: list[VideoDataSample] | None = None,
                mode: str = 'tensor') -> Any:
        """Args:
            inputs: (B, T, 3, S, S) normalised clips.
            data_samples: one :class:`VideoDataSample` per clip.
            mode: ``'loss'``, ``'predict'`` or ``'tensor'`` (head outputs of the clips).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            masks = torch.stack([s.gt_masks for s in data_samples])
            return self.track_clips(inputs, masks[:, 0])
        raise ValueError(f'SAM2Pretrainer.forward: unknown mode {mode!r}')

    def track_clips(self, inputs: Tensor, prompts: Tensor) -> dict[str, Any]:
        """Head outputs (B, T, ...) for clips (B, T, 3, S, S) prompted on frame 0 with bool
        masks (B, S, S); every frame writes memory."""
        batch, steps = inputs.shape[:2]
        feats = self.image_backbone(inputs.flatten(0, 1))
        mplus = torch.ones(batch, steps, dtype=torch.bool, device=inputs.device)
        return self.head(feats, mplus, None, mask_inputs=[{0: p} for p in prompts])

    def loss(self, inputs: Tensor, data_samples: list[VideoDataSample]) -> dict[str, Tensor]:
        targets = torch.stack([s.gt_masks for s in data_samples]).to(inputs.device)
        batch, steps, size = targets.shape[0], targets.shape[1], inputs.shape[-1]
        if self.recorder is None:
            out = self.track_clips(inputs, targets[:, 0])
        else:
            with self.recorder:
                out = self.track_clips(inputs, targets[:, 0])
        logits = upsample_mask_logits(out['mask_logits_ungated'].flatten(0, 1), size)
        logits = logits.reshape(batch, steps, size, size)
        scores = out['object_score_logits'].reshape(batch, steps)
        tracked = torch.ones(batch, steps, dtype=torch.bool, device=inputs.device)
        tracked[:, 0] = False        # the prompt frame's output is the prompt itself
        losses = self.loss_module(logits, targets, scores, frame_mask=tracked)
        if self.recorder is not None:
            losses['loss_correspondence'] = self._correspondence(data_samples, steps)
        return losses

    def _correspondence(self, data_samples: list[VideoDataSample], steps: int) -> Tensor:
        """Correspondence loss on the recorded memory-attention calls (every clip of the batch
        shares one plan: frame 0 prompted, the rest in temporal order)."""
        plan = self.head.plan(torch.ones(steps, dtype=torch.bool), mask_frames=[0])
        cond = {s.frame for s in plan if s.cond}
        layers = len(self.head.sam2.memory_attention.layers)
        memory, query = [], []
        for step in plan:
            if step.reads:
                frames = spatial_memory_frames(step.reads, cond, self.head.sam2.num_maskmem)
                memory += [frames] * layers
                query += [step.frame] * layers
        masks = [s.gt_object_masks.to(self.recorder.logits[0].device) for s in data_samples]
        return self.correspondence_loss(self.recorder.logits, self.recorder.pointers, memory, query,
                                        masks)

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[VideoDataSample]
                ) -> list[VideoDataSample]:
        for frames, sample in zip(inputs, data_samples):
            self.predict_video(frames, sample)
        return data_samples

    def predict_video(self, frames: Tensor, sample: VideoDataSample) -> VideoDataSample:
        """Track the sample's target from its first visible frame (frames (T, 3, S, S))."""
        meta = sample.metainfo
        gt = sample.gt_masks
        num = frames.shape[0]
        masks = torch.zeros((num, *meta['ori_shape']), dtype=torch.bool)
        start = first_visible_frame(gt)
        if start is not None and start < num - 1:
            masks[start] = gt[start]
            prompt = prompt_mask(gt[start], meta['img_shape'], self.head.image_size)
            later = frames[start:]
            feats = self.image_backbone(later)
            if self.use_memory:
                out = self.head.track_video(feats, torch.ones(len(later), dtype=torch.bool),
                                            None, {0: prompt.to(frames.device)})
                low = out['mask_logits'][1:]
            else:   # ablation: every later frame alone, no memory (the prompt cannot reach it)
                one = torch.ones(1, dtype=torch.bool)
                low = torch.cat([self.head.track_video(slice_features(feats, t, t + 1),
                                                       one)['mask_logits']
                                 for t in range(1, len(later))])
            logits = postprocess_mask_logits(low, self.head.image_size, meta['img_shape'],
                                             meta['ori_shape'])
            masks[start + 1:] = (logits > self.mask_threshold).cpu()
        sample.pred_masks = masks
        sample.set_metainfo(dict(prompt_frame=-1 if start is None else start))
        return sample


def export_sam2_checkpoint(model: SAM2Pretrainer | dict, path: str | os.PathLike) -> dict:
    """Write a pretrainer's image encoder and SAM2 parts as an official SAM2 checkpoint
    (``{"model": state_dict}``, sam2 key layout), atomically; return that state dict.

    Args:
        model: a :class:`SAM2Pretrainer` or its state dict (e.g. an mmengine checkpoint's
            ``state_dict``).
        path: output ``.pt`` file.
    """
    state = model.state_dict() if isinstance(model, torch.nn.Module) else model
    out = {}
    for key, value in state.items():
        if key.startswith('image_backbone.encoder.'):
            out[IMAGE_ENCODER_PREFIX + key[len('image_backbone.encoder.'):]] = value
        elif key.startswith('head.sam2.'):
            out[key[len('head.sam2.'):]] = value
    if not any(k.startswith(IMAGE_ENCODER_PREFIX) for k in out) or len(out) == len(
            [k for k in out if k.startswith(IMAGE_ENCODER_PREFIX)]):
        raise ValueError('export_sam2_checkpoint: the state dict holds no SAM2Pretrainer '
                         'image_backbone.encoder.* and head.sam2.* weights')
    out = {k: v.detach().cpu().contiguous() for k, v in out.items()}
    with atomic_path(path) as tmp:
        torch.save({'model': out}, tmp)
    return out


__all__ = ['SAM2Pretrainer', 'export_sam2_checkpoint', 'first_visible_frame', 'prompt_mask']
