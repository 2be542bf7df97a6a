"""Loss on the OSS-filtered targets (Eq. 7): sigmoid focal + Dice, plus SAM2's object score."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tgl_mm.registry import MODELS


def sigmoid_focal_map(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                      gamma: float = 2.0) -> Tensor:
    """Per-element sigmoid focal loss (Lin et al. 2017), same shape as ``logits``.

    ``FL = alpha_t * (1 - p_t) ** gamma * BCE(logits, targets)`` with ``p_t = p`` on positives,
    ``1 - p`` on negatives, ``alpha_t = alpha`` on positives, ``1 - alpha`` on negatives
    (``alpha < 0``: no weighting).
    """
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def dice_per_frame(logits: Tensor, targets: Tensor, smooth: float = 1.0) -> Tensor:
    """``1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s)`` over the last two dims (SAM2's form)."""
    prob = logits.sigmoid().flatten(-2)
    targets = targets.flatten(-2)
    inter = (prob * targets).sum(-1)
    return 1 - (2 * inter + smooth) / (prob.sum(-1) + targets.sum(-1) + smooth)


def _clip_mean(per_frame: Tensor, frames: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over the selected frames of each clip, then over the clips that have one.

    Returns the loss and the number of clips counted."""
    w = frames.to(per_frame.dtype)
    per_clip = (per_frame * w).sum(1) / w.sum(1).clamp(min=1.0)
    clips = frames.any(1).to(per_frame.dtype)
    return (per_clip * clips).sum() / clips.sum().clamp(min=1.0), clips.sum()


@MODELS.register_module()
class OSSLoss(nn.Module):
    """Eq. 7 on the OSS-filtered targets, normalised per clip, plus the object-score loss.

    Targets come already filtered by object-level selective supervision (the data pipeline drops
    the masks of objects whose moment misses the clip), so a frame may have an empty target.
    With ``p = sigmoid(mask logit)``, ``y`` the target, per frame ``(b, t)``:

    - focal: mean over the H x W pixels of the sigmoid focal loss (alpha 0.25, gamma 2);
    - Dice: ``1 - (2 sum p y + 1) / (sum p + sum y + 1)`` (smoothing 1 as in SAM2, so an empty
      target with an empty prediction costs ~0);
    - object score: BCE-with-logits of the SAM2 object-score logit against "the target is not
      empty on that frame" (SAM2's presence target; without it training can stall, because
      SAM2 sets the mask logits of a frame with object score <= 0 to -1024, which kills the
      mask gradient).

    Each term is averaged over the supervised frames of a clip, then over the clips that have at
    least one supervised frame (a clip with none adds 0 and is not counted), then weighted.
    Supervised frames: ``frame_mask`` (default all) and, for focal and Dice, a non-empty target
    unless ``supervise_empty_frames`` (the default: Eq. 7 supervises every frame of the clip with
    Y_OSS, so an object filtered out must not be segmented; ``False`` is SAM2's choice of mask
    losses only where the object is present, leaving absence to the object score).

    Args:
        focal_weight: lambda_Foc (1.0). dice_weight: lambda_Dice (1.0).
        object_score_weight: weight of the object-score BCE (1.0; 0 disables it).
        alpha, gamma: focal parameters (0.25, 2).
        dice_smooth: Dice smoothing (1.0).
        supervise_empty_frames: apply focal and Dice on empty-target frames too (True).
    """

    def __init__(self, focal_weight: float = 1.0, dice_weight: float = 1.0,
                 object_score_weight: float = 1.0, alpha: float = 0.25, gamma: float = 2.0,
                 dice_smooth: float = 1.0, supervise_empty_frames: bool = True) -> None:
        super().__init__()
        self.focal_weight = focal_weight
        self.dice_weight = dice_weight
        self.object_score_weight = object_score_weight
        self.alpha = alpha
        self.gamma = gamma
        self.dice_smooth = dice_smooth
        self.supervise_empty_frames = supervise_empty_frames

    def forward(self, mask_logits: Tensor, targets: Tensor,
                object_score_logits: Tensor | None = None,
                frame_mask: Tensor | None = None) -> dict[str, Tensor]:
        """Compute the loss terms.

        Args:
            mask_logits: (B, T, H, W) mask logits at the target resolution.
            targets: bool (B, T, H, W) OSS-filtered targets (``gt_masks``).
            object_score_logits: (B, T) SAM2 object-score logits, or ``None`` (no such term).
            frame_mask: bool (B, T) frames to supervise (e.g. False on padding); default all.

        Returns:
            ``loss_focal``, ``loss_dice`` and (with object scores and a non-zero weight)
            ``loss_object_score``, each already weighted.
        """
        if mask_logits.dim() != 4 or mask_logits.shape != targets.shape:
            raise ValueError(f'OSSLoss: mask logits {tuple(mask_logits.shape)} and targets '
                             f'{tuple(targets.shape)} must both be (B, T, H, W)')
        logits = mask_logits.float()
        y = targets.to(logits.dtype)
        valid = torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device) \
            if frame_mask is None else frame_mask.to(device=logits.device, dtype=torch.bool)
        present = targets.flatten(2).any(-1)
        supervised = valid if self.supervise_empty_frames else valid & present

        focal = sigmoid_focal_map(logits, y, self.alpha, self.gamma).mean(dim=(-2, -1))
        dice = dice_per_frame(logits, y, self.dice_smooth)
        losses = {'loss_focal': self.focal_weight * _clip_mean(focal, supervised)[0],
                  'loss_dice': self.dice_weight * _clip_mean(dice, supervised)[0]}
        if object_score_logits is not None and self.object_score_weight:
            if object_score_logits.shape != present.shape:
                raise ValueError(f'OSSLoss: object-score logits {tuple(object_score_logits.shape)}'
                                 f' must be (B, T) = {tuple(present.shape)}')
            scores = object_score_logits.float()
            bce = F.binary_cross_entropy_with_logits(scores, present.to(scores.dtype),
                                                     reduction='none')
            losses['loss_object_score'] = self.object_score_weight * _clip_mean(bce, valid)[0]
        return losses


__all__ = ['OSSLoss', 'sigmoid_focal_map', 'dice_per_frame']
