"""The frozen SAM2 image encoder (sam2's Hiera trunk + FpnNeck), runnable stage by stage."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from mmengine.model import BaseModule
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from tgl_mm.models.utils.sam2_checkpoint import IMAGE_ENCODER_PREFIX, load_sam2_part
from tgl_mm.models.utils.sam2_settings import build_image_encoder, get_sam2_settings, stage_channels
from tgl_mm.registry import MODELS


@MODELS.register_module()
class SAM2ImageEncoder(BaseModule):
    """Frozen SAM2 image encoder: sam2's ``ImageEncoder`` (``Hiera`` + ``FpnNeck``).

    Its parameters never require grad and it stays in eval mode when the model trains, but
    gradients flow *through* it: a trainable module (the cross-modal adapter) may change the
    output of one stage and feed it to the next (:meth:`forward_stage`).

    Running ``patch_embed``, the four ``forward_stage`` calls and ``neck`` reproduces
    :meth:`forward` (sam2's ``ImageEncoder.forward``) exactly::

        x = enc.patch_embed(images)                       # (N, S/4, S/4, C0)
        outs = []
        for i in range(enc.num_stages):
            x = enc.forward_stage(x, i)                   # (N, h_i, w_i, C_i)
            outs.append(x.permute(0, 3, 1, 2))            # channels first for the neck
        feats = enc.neck(outs)                            # == enc(images)

    Args:
        arch: SAM2 settings name (``'sam2.1_hiera_b+'``, ``'sam2_hiera_l'``, ``'tiny'``, see
            :mod:`tgl_mm.models.utils.sam2_settings`) or a settings dict.
        image_size: square input size (multiple of 32); ``None`` keeps the arch's default.
        arch_overrides: nested dict merged into the settings.
        checkpoint: path of an official SAM2 / SAM2.1 ``.pt`` file (or one in the same layout);
            its ``image_encoder.*`` weights are loaded at construction and again at the end of
            :meth:`init_weights`, so generic initialisers cannot overwrite them.
        checkpoint_sha256: expected SHA-256 of ``checkpoint`` (checked when it is loaded), or
            None.
        frozen: keep the encoder frozen (the paper). ``False`` trains it: only sensible for a
            random-init model with no SAM2 weights to keep (the CPU ``tiny`` demo).
        activation_checkpointing: in training, keep only each Hiera block's input on the paths
            that carry a gradient (the adapter path F_Adp, whose stages after the first adapter
            pass the gradient through) and recompute the block in the backward pass
            (``torch.utils.checkpoint``): less activation memory for one more forward of those
            blocks; the same gradients. Blocks without a gradient to carry (the trunk, the raw
            path, inference) run as usual.
        init_cfg: mmengine init config (applied before the checkpoint).
    """

    def __init__(self, arch: str | Mapping = 'sam2.1_hiera_b+', image_size: int | None = None,
                 arch_overrides: Mapping | None = None, checkpoint: str | None = None,
                 checkpoint_sha256: str | None = None, frozen: bool = True,
                 activation_checkpointing: bool = False,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.settings = get_sam2_settings(arch, image_size=image_size, overrides=arch_overrides)
        self.image_size: int = self.settings['image_size']
        self.encoder = build_image_encoder(self.settings)
        self.num_stages: int = len(self.encoder.trunk.stage_ends)
        self.stage_channels: tuple[int, ...] = stage_channels(self.settings)
        self.hidden_dim: int = self.settings['hidden_dim']
        ends = list(self.encoder.trunk.stage_ends)
        self._stage_blocks = [range(start, end + 1)
                              for start, end in zip([0] + [e + 1 for e in ends[:-1]], ends)]
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.frozen = frozen
        self.activation_checkpointing = bool(activation_checkpointing)
        for param in self.parameters():
            param.requires_grad_(not frozen)
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        self.train(False)

    # --- weights ---------------------------------------------------------------------------------
    def load_checkpoint(self, path: str) -> tuple[list[str], list[str]]:
        """Load a SAM2 checkpoint's ``image_encoder.*`` weights; return (missing, unexpected)."""
        return load_sam2_part(self.encoder, path, IMAGE_ENCODER_PREFIX, part='image encoder',
                              sha256=self.checkpoint_sha256)

    def init_weights(self) -> None:
        """mmengine initialisation, then the SAM2 checkpoint (if any) on top."""
        super().init_weights()
        if self.checkpoint is not None:
            self.load_checkpoint(self.checkpoint)

    def train(self, mode: bool = True) -> SAM2ImageEncoder:
        """A frozen encoder stays in eval mode (``mode`` is ignored)."""
        return super().train(mode and not self.frozen)

    # --- stage-by-stage API ----------------------------------------------------------------------
    def patch_embed(self, images: Tensor) -> Tensor:
        """Patch embedding plus Hiera's position embedding.

        Args:
            images: (N, 3, S, S) normalised images.

        Returns:
            (N, S/4, S/4, C0) channels-last tokens.
        """
        self._check_images(images)
        trunk = self.encoder.trunk
        x = trunk.patch_embed(images)
        return x + trunk._get_pos_embed(x.shape[1:3])

    def forward_stage(self, x: Tensor, stage: int) -> Tensor:
        """Run the blocks of Hiera stage ``stage`` (0-based; stages 1-3 start by pooling).

        Args:
            x: (N, h, w, C) channels-last output of :meth:`patch_embed` (stage 0) or of the
                previous stage.
            stage: 0 .. ``num_stages - 1``.

        Returns:
            (N, h', w', C_stage) channels-last; ``h' = h / 2`` for stages 1-3.
        """
        if not 0 <= stage < self.num_stages:
            raise IndexError(f'stage must be in [0, {self.num_stages}), got {stage}')
        blocks = self.encoder.trunk.blocks
        recompute = self.activation_checkpointing and torch.is_grad_enabled() and (
            x.requires_grad or not self.frozen)
        for i in self._stage_blocks[stage]:
            x = checkpoint(blocks[i], x, use_reentrant=False) if recompute else blocks[i](x)
        return x

    def neck(self, stage_outputs: list[Tensor]) -> dict[str, Tensor | list[Tensor]]:
        """FPN neck over the four stage outputs, as sam2's ``ImageEncoder`` does after the trunk.

        Args:
            stage_outputs: four (N, C_i, H_i, W_i) channels-first maps, highest resolution first.

        Returns:
            ``vision_features`` (N, D, S/16, S/16); ``vision_pos_enc`` and ``backbone_fpn``: lists
            of three maps (N, D, S/4 ...), (N, D, S/8 ...), (N, D, S/16 ...) after dropping the
            lowest-resolution level (``scalp``). ``D`` is the SAM2 hidden dim.
        """
        if len(stage_outputs) != self.num_stages:
            raise ValueError(f'neck needs {self.num_stages} stage outputs, '
                             f'got {len(stage_outputs)}')
        features, pos = self.encoder.neck(list(stage_outputs))
        scalp = self.encoder.scalp
        if scalp > 0:
            features, pos = features[:-scalp], pos[:-scalp]
        return {'vision_features': features[-1], 'vision_pos_enc': pos, 'backbone_fpn': features}

    def forward(self, images: Tensor) -> dict[str, Tensor | list[Tensor]]:
        """F_SAM: sam2's ``ImageEncoder.forward`` on (N, 3, S, S) images (see :meth:`neck`)."""
        self._check_images(images)
        return self.encoder(images)

    def _check_images(self, images: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[-2:] != (
                self.image_size, self.image_size):
            raise ValueError(f'SAM2ImageEncoder expects images of shape (N, 3, {self.image_size}, '
                             f'{self.image_size}), got {tuple(images.shape)}')


__all__ = ['SAM2ImageEncoder']
