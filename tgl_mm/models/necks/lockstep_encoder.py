"""Lockstep encoding: the frozen image and text encoders run side by side with the adapters.

Per Hiera stage ``i``: run the stage on every frame, run the text layers up to
``text_layer_ends[i]``, then, if an adapter acts after stage ``i``, adapt the frames flagged
``adapt`` (M+, path F_Adp) together with the text. Frames not flagged (M-) follow the raw path
F_SAM: their stages never see the adapter, so their features equal ``SAM2ImageEncoder(images)``.
Both paths share the stages up to and including the first adapted one (computed once); the text
stream only attends to the adapted frames of its own video. With HSA, the adapted frames of one
video form the clip whose patches attend to each other, each frame with its index in the video.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def pool_frame_features(vision_features: Tensor) -> Tensor:
    """One vector per frame for the TAM: ``concat(spatial mean, spatial max)``.

    Args:
        vision_features: (N, C, H, W).

    Returns:
        (N, 2C). The max keeps a small object's change that the mean dilutes over the frame (on
        synthetic MeViS-M it raised the TAM's keyframe top-1 from 74 % to 86 %).
    """
    return torch.cat([vision_features.mean(dim=(2, 3)), vision_features.amax(dim=(2, 3))], 1)


@dataclass
class LockstepOutput:
    """What :func:`lockstep_encode` returns for B expressions of T frames each (N = B * T).

    Attributes:
        image_feats: the image-encoder output dict for all N frames (video-major: frame ``t`` of
            video ``b`` is row ``b * T + t``), as ``SAM2ImageEncoder.neck`` returns it: row ``n``
            is F_Adp if ``adapt`` is set for that frame, else F_SAM.
            ``vision_features`` (N, C, S/16, S/16); ``vision_pos_enc`` and ``backbone_fpn``:
            lists of (N, C, S/4 ...), (N, C, S/8 ...), (N, C, S/16 ...).
        text_feats: E_Adp (B, L, D), the text after the last adapter (the plain text encoding
            for a video with no adapted frame).
        frame_embeds: (B, T, 2C) per-frame pooled feature (:func:`pool_frame_features`: the
            spatial mean and max of ``vision_features``), the TAM input.
        adapt: bool (B, T), the path flags used.
    """

    image_feats: dict
    text_feats: Tensor
    frame_embeds: Tensor
    adapt: Tensor

    def frame(self, n: int) -> dict:
        """The image-encoder output dict of frame ``n`` alone (batch dimension 1)."""
        return _select(self.image_feats, slice(n, n + 1))

    def frames_at(self, t: int) -> dict:
        """The image-encoder output dict of time step ``t`` of every video (batch B)."""
        batch, steps = self.adapt.shape
        rows = torch.arange(batch, device=self.adapt.device) * steps + t
        return _select(self.image_feats, rows)


def _select(feats: dict, rows) -> dict:
    return {k: [x[rows] for x in v] if isinstance(v, list) else v[rows] for k, v in feats.items()}


def first_adapted_stage(image_encoder, adapter) -> int:
    """The first Hiera stage followed by an adapter (``num_stages`` without adapters)."""
    stages = adapter.adapter_stages if adapter is not None else ()
    return stages[0] if stages else image_encoder.num_stages


def num_shared_stages(image_encoder, adapter) -> int:
    """How many Hiera stages both paths (F_Adp and F_SAM) compute identically, whatever the text:
    stages ``0 .. first adapted stage`` (its output before the adapter) -- every stage without
    adapters (``adapter=None``)."""
    return min(first_adapted_stage(image_encoder, adapter), image_encoder.num_stages - 1) + 1


def encode_trunk(image_encoder, images: Tensor, num_stages: int) -> list[Tensor]:
    """The text-independent start of the image encoder: patch embedding and the first
    ``num_stages`` Hiera stages.

    Args:
        image_encoder: a ``SAM2ImageEncoder``.
        images: (N, 3, S, S) normalised frames.
        num_stages: stages to run (see :func:`num_shared_stages`).

    Returns:
        ``num_stages`` channels-last stage outputs (N, h_i, w_i, C_i).
    """
    x = image_encoder.patch_embed(images)
    outs = []
    for stage in range(num_stages):
        x = image_encoder.forward_stage(x, stage)
        outs.append(x)
    return outs


def raw_from_trunk(image_encoder, trunk: Sequence[Tensor]) -> dict:
    """F_SAM from :func:`encode_trunk`'s outputs: the remaining stages and the FPN neck (equal to
    ``image_encoder(images)``)."""
    outs = list(trunk)
    x = outs[-1]
    for stage in range(len(outs), image_encoder.num_stages):
        x = image_encoder.forward_stage(x, stage)
        outs.append(x)
    return image_encoder.neck([o.permute(0, 3, 1, 2) for o in outs])


def clip_frame_index(frame_index: Tensor | None, batch: int, steps: int,
                     device: torch.device | str | None = None) -> Tensor:
    """(B * T,) long frame indices of B clips of T frames, video-major: ``frame_index`` (B, T) or
    (B * T,) checked and flattened, or the step in the clip (0 .. T-1) when None."""
    if frame_index is None:
        return torch.arange(steps, device=device).repeat(batch)
    frame_index = torch.as_tensor(frame_index, device=device)
    if frame_index.numel() != batch * steps or frame_index.is_floating_point():
        raise ValueError(f'lockstep_encode: frame_index must hold {batch} x {steps} integer '
                         f'frame indices, got {tuple(frame_index.shape)} {frame_index.dtype}')
    return frame_index.reshape(-1).long()


def lockstep_encode(image_encoder, text_encoder, adapter, images: Tensor | None,
                    input_ids: Tensor, attention_mask: Tensor, adapt: Tensor,
                    trunk: Sequence[Tensor] | None = None,
                    frame_index: Tensor | None = None) -> LockstepOutput:
    """Run ``SAM2ImageEncoder`` and ``HFTextEncoder`` in lockstep with the adapters.

    Args:
        image_encoder: a ``SAM2ImageEncoder`` (``patch_embed``, ``forward_stage``, ``neck``,
            ``num_stages``, ``stage_channels``).
        text_encoder: an ``HFTextEncoder`` (``encode_prefix``, ``forward_layer``, ``num_layers``,
            ``hidden_size``).
        adapter: a ``CrossModalAdapter`` (schedule and adapter layers).
        images: (B * T, 3, S, S) normalised frames, grouped by video (video-major); may be None
            when ``trunk`` is given.
        input_ids: long (B, L) tokens of the B expressions.
        attention_mask: (B, L) 0/1 mask of real tokens.
        adapt: bool (B, T) or (B * T,): frames that take the adapter path F_Adp (M+).
        trunk: the frames' :func:`encode_trunk` outputs (``num_shared_stages`` of them), e.g.
            cached and shared by several sentences; computed from ``images`` when None.
        frame_index: (B, T) or (B * T,) each frame's index in its video (HSA's time embedding:
            a training clip's sampled frames, an inference chunk's M+ frames); None: the step
            in the clip (0 .. T-1).

    Returns:
        :class:`LockstepOutput`.
    """
    ends = adapter.check_encoders(image_encoder, text_encoder)
    first = first_adapted_stage(image_encoder, adapter)
    if trunk is None:
        trunk = encode_trunk(image_encoder, images, num_shared_stages(image_encoder, adapter))
    batch = input_ids.shape[0]
    num = trunk[0].shape[0]
    if batch == 0 or num % batch:
        raise ValueError(f'lockstep_encode: {num} frames cannot be split into {batch} videos')
    steps = num // batch
    adapt = adapt.to(device=trunk[0].device, dtype=torch.bool).reshape(-1)
    if adapt.numel() != num:
        raise ValueError(f'lockstep_encode: adapt has {adapt.numel()} flags for {num} frames')
    rows_adp = torch.nonzero(adapt).squeeze(1)
    rows_raw = torch.nonzero(~adapt).squeeze(1)
    video_of_adp = rows_adp // steps
    frame_of_adp = clip_frame_index(frame_index, batch, steps, adapt.device)[rows_adp]
    text_pad = attention_mask == 0

    has_adp, has_raw = len(rows_adp) > 0, len(rows_raw) > 0
    order = torch.argsort(torch.cat([rows_adp, rows_raw]))

    def merge(x_adp: Tensor | None, x_raw: Tensor | None) -> Tensor:
        """Both paths back in frame order."""
        if x_adp is None or x_raw is None:
            return x_raw if x_adp is None else x_adp
        return torch.cat([x_adp, x_raw])[order]

    # the text before the first adapter depends on the sentence alone (cached per sentence)
    done = ends[min(first, len(ends) - 1)]
    text = text_encoder.encode_prefix(input_ids, attention_mask, done)
    stage_outputs: list[Tensor] = []          # (N, C_i, H_i, W_i) for the neck
    x_adp = x_raw = None
    for stage in range(image_encoder.num_stages):
        if stage <= first:                    # shared by both paths
            x = trunk[stage]
            if stage == first:
                x_adp = x[rows_adp] if has_adp else None
                x_raw = x[rows_raw] if has_raw else None
        else:
            x_adp = image_encoder.forward_stage(x_adp, stage) if has_adp else None
            x_raw = image_encoder.forward_stage(x_raw, stage) if has_raw else None
        for i in range(done, ends[stage]):
            text = text_encoder.forward_layer(text, attention_mask, i)
        done = max(done, ends[stage])
        layer = adapter.layer_for_stage(stage)
        if layer is not None and has_adp:
            x_adp, text = layer(x_adp, text, video_of_adp, text_pad, frame_of_adp)
        out = x if stage < first else merge(x_adp, x_raw)
        stage_outputs.append(out.permute(0, 3, 1, 2))

    feats = image_encoder.neck(stage_outputs)
    pooled = pool_frame_features(feats['vision_features']).reshape(batch, steps, -1)
    return LockstepOutput(image_feats=feats, text_feats=text, frame_embeds=pooled,
                          adapt=adapt.reshape(batch, steps))


__all__ = ['lockstep_encode', 'LockstepOutput', 'encode_trunk', 'raw_from_trunk',
           'clip_frame_index', 'pool_frame_features', 'num_shared_stages',
           'first_adapted_stage']
