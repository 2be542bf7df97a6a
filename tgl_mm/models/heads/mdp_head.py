"""Moment-guided Dual-path Propagation (MDP) head: SAM2's video machinery driven by moments (§4.3).

Per frame (Eq. 3-5): ``F_mem = MemoryAttn(F, B)``, ``P = D(F_mem, rho)`` where ``F`` is ``F_Adp`` on
M+ frames and ``F_SAM`` on M- frames (chosen by the caller), the text prompt ``rho`` is given to the
mask decoder on M+ frames only, and only M+ frames are written to the memory bank ``B`` (SAM2's
memory encoder on the predicted soft mask). Memory attention reads the 6 memories nearest in time,
the conditioning frame, and the object pointers of up to 15 nearest memories.

Everything is sam2's own modules and methods (``SAM2Base`` holds memory attention, memory encoder,
mask decoder with ``conv_s0``/``conv_s1``, prompt encoder, object-pointer projections, no-memory and
no-object embeddings); this module only decides which frame reads which memory and when, in
:mod:`tgl_mm.models.heads.memory_bank`.

Long module: one registered head whose training, chunked and streaming paths run the same
per-frame step on the same sam2 modules; the schedule itself is apart (``memory_bank``).
"""
from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from sam2.modeling.sam2_base import NO_OBJ_SCORE, SAM2Base
from torch import Tensor

from tgl_mm.models.heads.memory_bank import (
    MEMORY_FROM,
    ORDERS,
    MDPStep,
    plan_mdp,
    present_memories,
)
from tgl_mm.models.utils.sam2_checkpoint import IMAGE_ENCODER_PREFIX, load_sam2_part
from tgl_mm.models.utils.sam2_settings import (
    build_memory_attention,
    build_memory_encoder,
    get_sam2_settings,
    sam2_base_kwargs,
)
from tgl_mm.registry import MODELS

#: per-frame image-encoder outputs: a dict of (T, ...) tensors (``backbone_fpn``, ``vision_pos_enc``
#: lists as :class:`SAM2ImageEncoder` returns) or a callable ``t -> dict`` of (1, ...) tensors.
FeatureSource = Mapping[str, Any] | Callable[[int], Mapping[str, Any]]

#: keys of the per-frame outputs that are stacked over frames by :meth:`MDPHead.track_video`
FRAME_KEYS = ('mask_logits', 'mask_logits_ungated', 'object_score_logits', 'iou_predictions',
              'multimask_logits')


@MODELS.register_module()
class MDPHead(BaseModule):
    """SAM2 video head with a moment-centric memory bank (MDP, §4.3 of the paper).

    Processing order (see :func:`~tgl_mm.models.heads.memory_bank.plan_mdp`): with
    ``order='mplus_first'`` the M+ frames are segmented first, in temporal order, each writing its
    memory; then every M- frame is propagated from its nearest M+ memories (past or future: an M-
    frame before the first M+ frame reads them like SAM2's reverse tracking). The first M+ frame is
    SAM2's conditioning frame (no memory; every later frame attends to it). ``order='temporal'``
    is a causal single pass (SAM2's propagation): the Table 2 baseline's order and the order
    controls; the Table 3 ablations keep ``'mplus_first'``.
    Memories are presented at offsets ``1..N`` by temporal rank, nearest first, which equals SAM2's
    frame distance when every frame is in memory (hence exact parity with SAM2VideoPredictor).

    Args:
        arch: SAM2 settings name or dict (see :mod:`tgl_mm.models.utils.sam2_settings`); must match
            the image encoder's.
        image_size: square input size; ``None`` keeps the arch's default.
        arch_overrides: nested dict merged into the settings.
        memory_from: ``'mplus'`` (paper: only M+ frames are written to memory) or ``'all'``.
        order: ``'mplus_first'`` (default) or ``'temporal'``.
        mfe: moment-aware feature extraction (dual path). True: only M+ frames get the text prompt
            (the caller feeds them F_Adp and F_SAM to M- frames). False (ablation, SAMWISE-style):
            every frame takes the M+ path. :meth:`adapted_frames` tells the caller which frames
            take the M+ path.
        multimask_output: default of the decoder's ``multimask_output`` (3 candidate masks, the
            one with the best predicted IoU is used); SAM2 tracks with True, with no point prompt
            it would otherwise default to True too, so it is always passed explicitly.
        eval_memory_dtype: dtype of stored memory features in eval mode (``'bfloat16'`` like
            SAM2VideoPredictor: halves the bank; ``None`` keeps float32). Training keeps float32.
        frozen_parts: dotted names of ``SAM2Base`` parts (sub-modules or parameters) whose
            parameters do not train. Default: the prompt encoder (the paper trains the mask
            decoder and memory modules besides the adapter), ``mask_downsample`` (used only with
            mask inputs), ``no_mem_pos_enc`` (unused with ``directly_add_no_mem_embed``) and the
            decoder's IoU head (no loss on it in the paper; unfreeze it if you add one): parts
            that text-prompted training never reaches would otherwise need DDP's
            ``find_unused_parameters``.
        checkpoint: official SAM2 / SAM2.1 ``.pt``; every non-image-encoder part is loaded from it
            at construction and again at the end of :meth:`init_weights`.
        checkpoint_sha256: expected SHA-256 of ``checkpoint`` (checked when it is loaded), or
            None.
        init_cfg: mmengine init config (applied before the checkpoint).
    """

    def __init__(self, arch: str | Mapping = 'sam2.1_hiera_b+', image_size: int | None = None,
                 arch_overrides: Mapping | None = None, memory_from: str = 'mplus',
                 order: str = 'mplus_first', mfe: bool = True, multimask_output: bool = False,
                 eval_memory_dtype: str | None = 'bfloat16',
                 frozen_parts: Sequence[str] = ('sam_prompt_encoder', 'mask_downsample',
                                                'no_mem_pos_enc',
                                                'sam_mask_decoder.iou_prediction_head'),
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if memory_from not in MEMORY_FROM:
            raise ValueError(f'memory_from must be one of {MEMORY_FROM}, got {memory_from!r}')
        if order not in ORDERS:
            raise ValueError(f'order must be one of {ORDERS}, got {order!r}')
        self.settings = get_sam2_settings(arch, image_size=image_size, overrides=arch_overrides)
        kwargs = sam2_base_kwargs(self.settings)
        if kwargs.get('memory_temporal_stride_for_eval', 1) != 1:
            raise ValueError('MDPHead needs memory_temporal_stride_for_eval=1 (memories are '
                             'presented at consecutive offsets)')
        if not kwargs.get('use_obj_ptrs_in_encoder', False):
            raise ValueError('MDPHead needs use_obj_ptrs_in_encoder=True (object pointers)')
        self.hidden_dim: int = self.settings['hidden_dim']
        self.image_size: int = self.settings['image_size']
        # SAM2Base without its image encoder (ours is SAM2ImageEncoder): it only reads the
        # neck's width from it.
        stub = types.SimpleNamespace(neck=types.SimpleNamespace(d_model=self.hidden_dim))
        self.sam2 = SAM2Base(image_encoder=stub,
                             memory_attention=build_memory_attention(self.settings),
                             memory_encoder=build_memory_encoder(self.settings), **kwargs)
        self.sam2.image_encoder = None
        self.memory_from = memory_from
        self.order = order
        self.mfe = mfe
        self.multimask_output = multimask_output
        self.eval_memory_dtype = (getattr(torch, eval_memory_dtype)
                                  if eval_memory_dtype is not None else None)
        for name in frozen_parts:
            try:
                part = self.sam2.get_submodule(name)
                params = list(part.parameters())
            except AttributeError:
                try:
                    params = [self.sam2.get_parameter(name)]
                except AttributeError:
                    raise ValueError(f'frozen_parts: SAM2Base has no part {name!r}') from None
            for param in params:
                param.requires_grad_(False)
        self.frozen_parts = tuple(frozen_parts)
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)

    # --- weights ---------------------------------------------------------------------------------
    def load_checkpoint(self, path: str) -> tuple[list[str], list[str]]:
        """Load every SAM2 part but the image encoder; return (missing, unexpected) keys."""
        return load_sam2_part(self, path, prefix='', part='MDP head',
                              exclude=(IMAGE_ENCODER_PREFIX,), target_prefix='sam2.',
                              sha256=self.checkpoint_sha256)

    def init_weights(self) -> None:
        """mmengine initialisation, then the SAM2 checkpoint (if any) on top."""
        super().init_weights()
        if self.checkpoint is not None:
            self.load_checkpoint(self.checkpoint)

    # --- public API ------------------------------------------------------------------------------
    def adapted_frames(self, mplus: Tensor) -> Tensor:
        """Frames that take the M+ path (F_Adp features + text prompt): ``mplus``, or every frame
        when ``mfe=False``. Same shape as ``mplus`` (bool)."""
        mplus = torch.as_tensor(mplus, dtype=torch.bool)
        return mplus if self.mfe else torch.ones_like(mplus)

    def plan(self, mplus: Sequence[bool] | Tensor, mask_frames: Sequence[int] = ()
             ) -> list[MDPStep]:
        """The processing plan for one sequence (frame order, reads, releases): a caller that
        encodes frames lazily can prefetch in this order."""
        flags = [bool(m) for m in torch.as_tensor(mplus).reshape(-1).tolist()]
        span = min(len(flags), self.sam2.max_obj_ptrs_in_encoder) - 1
        window = max(self.sam2.num_maskmem - 1, span)
        return plan_mdp(flags, memory_from=self.memory_from, order=self.order,
                        mask_frames=mask_frames, window=window)

    def forward(self, features: FeatureSource | Sequence[FeatureSource], mplus: Tensor,
                text_prompt: Tensor | None = None,
                mask_inputs: Sequence[Mapping[int, Tensor]] | Mapping[int, Tensor] | None = None,
                multimask_output: bool | None = None) -> dict[str, Any]:
        """Run the head on a batch of B clips/videos of T frames (a loop over videos).

        Args:
            features: per-frame image-encoder outputs (F_Adp on the frames of
                :meth:`adapted_frames`, F_SAM on the others): a dict whose tensors have
                ``B * T`` frames (video ``b`` at ``[b * T, (b + 1) * T)``), or a list of B
                :data:`FeatureSource`. With 1-D ``mplus``: one video's source.
            mplus: bool (B, T) (or (T,) for one video): M+ flags.
            text_prompt: (B, P, C) sparse prompt tokens (C = SAM2 hidden dim) or None.
            mask_inputs: per video ``{frame: mask}`` (see :meth:`track_video`) or None.
            multimask_output: overrides the constructor's default.

        Returns:
            :meth:`track_video`'s dict with every tensor stacked to (B, T, ...) and ``order`` a
            list of B lists (for 1-D ``mplus``: :meth:`track_video`'s output as is).
        """
        mplus = torch.as_tensor(mplus, dtype=torch.bool)
        if mplus.dim() == 1:
            prompt = text_prompt[0] if text_prompt is not None and text_prompt.dim() == 3 \
                else text_prompt
            return self.track_video(features, mplus, prompt, mask_inputs, multimask_output)
        num_videos, num_frames = mplus.shape
        if isinstance(features, Mapping) or callable(features):
            if callable(features) and not isinstance(features, Mapping):
                raise TypeError('a batch needs a feature dict or a list of per-video sources')
            sources = None
        else:
            sources = list(features)
            if len(sources) != num_videos:
                raise ValueError(f'got {len(sources)} feature sources for {num_videos} videos')
        if text_prompt is not None and text_prompt.shape[0] != num_videos:
            raise ValueError(f'text_prompt has {text_prompt.shape[0]} rows for {num_videos} '
                             'videos')
        masks = [dict(mask_inputs[b]) if mask_inputs is not None else {}
                 for b in range(num_videos)]
        if sources is None:
            # videos with the same plan run together, one batched pass per frame
            groups = same_plan_groups(mplus, [sorted(m) for m in masks])
        else:
            groups = [[b] for b in range(num_videos)]
        results: dict[int, dict] = {}
        for group in groups:
            if sources is None:
                rows = torch.as_tensor([[b * num_frames + t for b in group]
                                        for t in range(num_frames)])
                source = lambda t, rows=rows: slice_rows(features, rows[t])
            else:
                source = sources[group[0]]
            prompt = None if text_prompt is None else text_prompt[group]
            group_masks = {t: torch.stack([torch.as_tensor(masks[b][t]) for b in group])
                           for t in masks[group[0]]}
            out = self.track_video(source, mplus[group[0]], prompt, group_masks,
                                   multimask_output, num_videos=len(group))
            for i, b in enumerate(group):
                results[b] = {key: (value[i] if key in FRAME_KEYS else value)
                              for key, value in out.items()}
        out: dict[str, Any] = {key: torch.stack([results[b][key] for b in range(num_videos)])
                               for key in FRAME_KEYS if key in results[0]}
        out['order'] = [results[b]['order'] for b in range(num_videos)]
        return out

    def track_video(self, features: FeatureSource, mplus: Tensor | Sequence[bool],
                    text_prompt: Tensor | Callable[[int], Tensor | None] | None = None,
                    mask_inputs: Mapping[int, Tensor] | None = None,
                    multimask_output: bool | None = None,
                    num_videos: int | None = None) -> dict[str, Any]:
        """Run one clip or video and stack the per-frame outputs in frame order (arguments as
        :meth:`iter_video`).

        ``num_videos=N`` runs N videos that share ``mplus`` and mask frames in one batched pass
        (features, prompts and masks with a leading dim N, see :meth:`iter_video`); every output
        tensor then has a leading dim N: (N, T, ...).

        Returns:
            - ``mask_logits`` (T, 1, S/4, S/4): low-res mask logits, SAM2 semantics (set to
              -1024 where the object score is <= 0: an absent object gives an empty mask).
            - ``mask_logits_ungated`` (T, 1, S/4, S/4): the same before that gate (keeps the mask
              gradient when the object score is <= 0; the object score needs its own loss).
            - ``object_score_logits`` (T, 1): SAM2 object-presence logits (> 0: present).
            - ``iou_predictions`` (T, M): predicted IoU of the M decoder masks (M = 3 with
              multimask output, else 1).
            - ``multimask_logits`` (T, 3, S/4, S/4): every candidate (gated), only with
              multimask output.
            - ``order``: frames in processing order.
            Use :func:`postprocess_mask_logits` for masks at the input or original size.
        """
        frames: dict[int, dict[str, Tensor]] = {}
        order = []
        for t, out in self.iter_video(features, mplus, text_prompt, mask_inputs,
                                      multimask_output):
            frames[t] = out
            order.append(t)
        result: dict[str, Any] = {
            key: torch.stack([frames[t][key] for t in range(len(frames))], dim=1)
            for key in FRAME_KEYS if key in frames[0]}
        if num_videos is None:
            result = {key: value[0] for key, value in result.items()}
        elif result['mask_logits'].shape[0] != num_videos:
            raise ValueError(f'num_videos={num_videos} but the features hold '
                             f'{result["mask_logits"].shape[0]} videos')
        result['order'] = order
        return result

    def iter_video(self, features: FeatureSource, mplus: Tensor | Sequence[bool],
                   text_prompt: Tensor | Callable[[int], Tensor | None] | None = None,
                   mask_inputs: Mapping[int, Tensor] | None = None,
                   multimask_output: bool | None = None) -> Iterator[tuple[int, dict]]:
        """Run one clip or video frame by frame, yielding ``(t, outputs)`` in processing order.

        Memory stays bounded: frame features are requested one at a time (``features(t)`` when a
        callable is given) and dropped after the frame; memories are released once no later
        frame reads them. Outputs have :meth:`track_video`'s keys with a leading dim of 1.

        N videos that share ``mplus`` and the mask frames run as one batch when the features of
        each frame have batch size N, the prompt is (N, P, C) and each mask (N, H, W); outputs
        then have a leading dim of N.

        Args:
            features: :data:`FeatureSource` (the image-encoder output dict of the T frames, or
                ``t -> dict`` for one frame).
            mplus: (T,) M+ flags.
            text_prompt: (P, C) or (1, P, C) sparse prompt tokens used on M+-path frames, or a
                callable ``t -> (P, C)`` giving frame ``t``'s prompt (e.g. per encoded chunk of a
                long video), or None.
            mask_inputs: ``{t: mask}`` with masks (S, S) (any other size is resized like
                SAM2VideoPredictor.add_new_mask); such frames are conditioning frames whose output
                is the given mask (SAM2's ``use_mask_input_as_output_without_sam``).
            multimask_output: overrides the constructor's default.
        """
        mplus = torch.as_tensor(mplus, dtype=torch.bool).reshape(-1)
        num_frames = int(mplus.numel())
        multimask = self.multimask_output if multimask_output is None else multimask_output
        if callable(text_prompt):
            prompt_of = lambda t: self._check_prompt(text_prompt(t))
        else:
            prompt = self._check_prompt(text_prompt)
            prompt_of = lambda t: prompt
        path = self.adapted_frames(mplus).tolist()
        masks = {int(t): self._prepare_mask(m) for t, m in (mask_inputs or {}).items()}
        steps = self.plan(mplus, mask_frames=list(masks))
        cond = {s.frame for s in steps if s.cond}
        bank: dict[int, dict[str, Any]] = {}
        for step in steps:
            t = step.frame
            feats = self._frame_features(features, t, num_frames)
            out = self._run_frame(step, feats, bank, cond, num_frames,
                                  prompt_of(t) if path[t] else None, masks.get(t), multimask)
            for p in step.release:
                bank.pop(p, None)
            yield t, out

    # --- internals -------------------------------------------------------------------------------
    def _check_prompt(self, prompt: Tensor | None) -> Tensor | None:
        if prompt is None:
            return None
        if prompt.dim() == 2:
            prompt = prompt[None]
        if prompt.dim() != 3 or prompt.shape[-1] != self.hidden_dim:
            raise ValueError(f'text_prompt must be (P, {self.hidden_dim}) or (N, P, '
                             f'{self.hidden_dim}) for N videos, got {tuple(prompt.shape)}')
        return prompt

    def _prepare_mask(self, mask: Tensor) -> Tensor:
        """A (H, W) mask (or N masks (N, H, W)) as SAM2VideoPredictor.add_new_mask prepares it:
        (N, 1, S, S) float."""
        mask = torch.as_tensor(mask)
        if mask.dim() not in (2, 3):
            raise ValueError(f'mask inputs must be (H, W) or (N, H, W), got {tuple(mask.shape)}')
        mask = (mask[None] if mask.dim() == 2 else mask)[:, None].float()
        size = self.image_size
        if mask.shape[-2:] != (size, size):
            mask = F.interpolate(mask, size=(size, size), mode='bilinear', align_corners=False,
                                 antialias=True)
            mask = (mask >= 0.5).float()
        return mask

    def _frame_features(self, features: FeatureSource, t: int,
                        num_frames: int) -> tuple[list[Tensor], list[Tensor], list]:
        """Frame ``t``'s features in SAM2's flattened layout, after the decoder's high-res
        projections (what ``SAM2Base.forward_image`` + ``_prepare_backbone_features`` give)."""
        if isinstance(features, Mapping):
            if features['backbone_fpn'][0].shape[0] != num_frames:
                raise ValueError(f'features hold {features["backbone_fpn"][0].shape[0]} frames, '
                                 f'mplus has {num_frames}')
            feats = slice_features(features, t, t + 1)
        else:
            feats = features(t)
        fpn = list(feats['backbone_fpn'])
        decoder = self.sam2.sam_mask_decoder
        if self.sam2.use_high_res_features_in_sam:
            fpn[0] = decoder.conv_s0(fpn[0])
            fpn[1] = decoder.conv_s1(fpn[1])
        _, vision_feats, vision_pos, sizes = self.sam2._prepare_backbone_features(
            {'backbone_fpn': fpn, 'vision_pos_enc': list(feats['vision_pos_enc'])})
        return vision_feats, vision_pos, sizes

    def _run_frame(self, step: MDPStep, feats: tuple, bank: dict, cond: set, num_frames: int,
                   prompt: Tensor | None, mask: Tensor | None, multimask: bool) -> dict:
        sam = self.sam2
        vision_feats, vision_pos, sizes = feats
        hidden, (h, w) = self.hidden_dim, sizes[-1]
        high_res = [x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
                    for x, s in zip(vision_feats[:-1], sizes[:-1])] or None
        if mask is not None:
            pix = vision_feats[-1].permute(1, 2, 0).view(-1, hidden, h, w)
            _, _, ious, low, _, obj_ptr, score = sam._use_mask_as_output(pix, high_res,
                                                                         mask.to(pix.device))
            out = dict(mask_logits=low, mask_logits_ungated=low, object_score_logits=score,
                       iou_predictions=ious)
            if multimask:
                out['multimask_logits'] = low.expand(-1, 3, -1, -1)
                out['iou_predictions'] = ious.expand(-1, 3)
            # like SAM2VideoPredictor: memory from the output mask at input size, as a frame
            # the user interacted with
            mem_masks = F.interpolate(low, size=(self.image_size,) * 2, mode='bilinear',
                                      align_corners=False)
            from_user = True
        else:
            if step.reads:
                idx, reverse, output_dict = present_memories(
                    step.frame, step.reads, cond, bank, num_frames,
                    sam.max_obj_ptrs_in_encoder)
            else:
                idx, reverse, output_dict = step.frame, False, None
            pix = sam._prepare_memory_conditioned_features(
                frame_idx=idx, is_init_cond_frame=not step.reads,
                current_vision_feats=vision_feats[-1:], current_vision_pos_embeds=vision_pos[-1:],
                feat_sizes=sizes[-1:], output_dict=output_dict, num_frames=num_frames,
                track_in_reverse=reverse)
            out, mem_masks, obj_ptr = self._decode(pix, high_res, prompt, multimask)
            score = out['object_score_logits']
            from_user = False
        if step.write and step.frame not in step.release:  # skip memories nobody reads
            mem, mem_pos = sam._encode_new_memory(
                current_vision_feats=vision_feats, feat_sizes=sizes,
                pred_masks_high_res=mem_masks, object_score_logits=score,
                is_mask_from_pts=from_user)
            if not self.training and self.eval_memory_dtype is not None:
                mem = mem.to(self.eval_memory_dtype)
            bank[step.frame] = {'maskmem_features': mem, 'maskmem_pos_enc': mem_pos,
                                'obj_ptr': obj_ptr}
        return out

    def _decode(self, pix: Tensor, high_res: list[Tensor] | None, prompt: Tensor | None,
                multimask: bool) -> tuple[dict, Tensor, Tensor]:
        """SAM2's prompt encoder + mask decoder on memory-conditioned features, with the text
        prompt as sparse tokens (and ``no_mask_embed`` as dense prompt) when given, else SAM2's
        empty-point prompt. Returns (outputs, high-res gated mask for memory, object pointer)."""
        sam = self.sam2
        encoder = sam.sam_prompt_encoder
        batch = pix.shape[0]
        if prompt is None:
            points = (pix.new_zeros(batch, 1, 2),
                      -torch.ones(batch, 1, dtype=torch.int32, device=pix.device))
            sparse, dense = encoder(points=points, boxes=None, masks=None)
        else:
            sparse = prompt.expand(batch, -1, -1).to(pix.dtype)
            dense = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                batch, -1, *encoder.image_embedding_size)
        masks, ious, tokens, score = sam.sam_mask_decoder(
            image_embeddings=pix, image_pe=encoder.get_dense_pe(), sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=multimask, repeat_image=False,
            high_res_features=high_res)
        ungated = masks.float()
        gated = gate_absent_object(ungated, score) if sam.pred_obj_scores else ungated
        token = tokens[:, 0]
        if multimask:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(batch, device=pix.device)
            low, low_ungated = gated[rows, best][:, None], ungated[rows, best][:, None]
            if tokens.size(1) > 1:
                token = tokens[rows, best]
        else:
            low, low_ungated = gated, ungated
        high = F.interpolate(low, size=(self.image_size,) * 2, mode='bilinear',
                             align_corners=False)
        obj_ptr = sam.obj_ptr_proj(token)
        if sam.pred_obj_scores:
            present = torch.sigmoid(score) if sam.soft_no_obj_ptr else (score > 0).float()
            if sam.fixed_no_obj_ptr:
                obj_ptr = present * obj_ptr
            obj_ptr = obj_ptr + (1 - present) * sam.no_obj_ptr
        out = dict(mask_logits=low, mask_logits_ungated=low_ungated, object_score_logits=score,
                   iou_predictions=ious)
        if multimask:
            out['multimask_logits'] = gated
        return out, high, obj_ptr


def gate_absent_object(mask_logits: Tensor, object_score_logits: Tensor) -> Tensor:
    """SAM2's hard no-object gate: logits (B, M, h, w) set to -1024 where the object score
    (B, 1) is <= 0 (no gradient reaches the mask there)."""
    present = object_score_logits[:, :, None, None] > 0
    return torch.where(present, mask_logits, NO_OBJ_SCORE)


def slice_features(features: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Frames ``[start, stop)`` of an image-encoder output dict (tensors and lists of tensors)."""
    return slice_rows(features, slice(start, stop))


def slice_rows(features: Mapping[str, Any], rows: slice | Tensor) -> dict[str, Any]:
    """Rows ``rows`` (a slice or an index tensor) of an image-encoder output dict (tensors and
    lists of tensors)."""
    out = {}
    for key, value in features.items():
        if isinstance(value, Tensor):
            out[key] = value[rows]
        elif isinstance(value, (list, tuple)):
            out[key] = [v[rows] for v in value]
    return out


def same_plan_groups(mplus: Tensor, mask_frames: Sequence[Sequence[int]]) -> list[list[int]]:
    """Videos of a batch grouped by identical plans: same M+ flags (B, T) and mask frames.

    Returns lists of video indices, each in increasing order, groups ordered by first index."""
    groups: dict[tuple, list[int]] = {}
    for b, (flags, frames) in enumerate(zip(mplus.tolist(), mask_frames)):
        groups.setdefault((tuple(flags), tuple(frames)), []).append(b)
    return list(groups.values())


def upsample_mask_logits(mask_logits: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Bilinear resize of (N, C, h, w) logits to ``size`` (as SAM2 does for its outputs)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    return F.interpolate(mask_logits.float(), size=size, mode='bilinear', align_corners=False)


def postprocess_mask_logits(mask_logits: Tensor, image_size: int,
                            img_shape: tuple[int, int] | None = None,
                            ori_shape: tuple[int, int] | None = None) -> Tensor:
    """Low-res logits (T, 1, h, w) -> logits at the original frame size (T, H, W).

    Upsample to the square input size ``image_size`` (SAM2's high-res masks), crop the valid
    region ``img_shape`` (h, w) of a keep-ratio resize padded bottom/right, then resize to
    ``ori_shape`` (H, W). Without ``img_shape``/``ori_shape`` the result is at ``image_size``.
    Threshold at 0 for masks.
    """
    logits = upsample_mask_logits(mask_logits, image_size)
    if img_shape is not None:
        logits = logits[..., :img_shape[0], :img_shape[1]]
    if ori_shape is not None and tuple(logits.shape[-2:]) != tuple(ori_shape):
        logits = upsample_mask_logits(logits, tuple(ori_shape))
    return logits[:, 0]
