"""Gradient flow through the MDP head on a training clip; the frozen image encoder gets none."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tgl_mm.models.heads.mdp_head import MDPHead


def test_gradients_reach_memory_decoder_and_prompt_not_the_encoder(tiny_image_encoder,
                                                                   tiny_images, tiny_settings):
    torch.manual_seed(0)
    encoder = tiny_image_encoder
    head = MDPHead(arch=tiny_settings).train()
    # M- frames before, between and after M+ frames
    mplus = torch.tensor([False, True, True, False, True, False])
    images = tiny_images
    f_sam = encoder(images)
    # stand-in for the adapter: a trainable residual on the last stage, on M+ frames only
    delta = torch.zeros(1, *f_sam['backbone_fpn'][2].shape[1:], requires_grad=True)
    f_adp = dict(f_sam, backbone_fpn=list(f_sam['backbone_fpn']))
    f_adp['backbone_fpn'][2] = f_sam['backbone_fpn'][2] + delta * mplus[:, None, None, None]
    prompt = torch.randn(1, 2, head.hidden_dim, requires_grad=True)
    out = head.track_video(f_adp, mplus, prompt)

    target = torch.zeros_like(out['mask_logits_ungated'])
    target[..., 4:10, 4:10] = 1
    loss = F.binary_cross_entropy_with_logits(out['mask_logits_ungated'], target) + \
        F.binary_cross_entropy_with_logits(out['object_score_logits'],
                                           torch.ones_like(out['object_score_logits']))
    loss.backward()

    sam = head.sam2

    def has_grad(module):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        return bool(grads) and all(g is not None for g in grads) and \
            sum(g.abs().sum() for g in grads) > 0

    assert has_grad(sam.memory_attention)
    assert has_grad(sam.memory_encoder)
    assert has_grad(sam.sam_mask_decoder.transformer)
    assert has_grad(sam.sam_mask_decoder.conv_s0) and has_grad(sam.sam_mask_decoder.conv_s1)
    assert has_grad(sam.sam_mask_decoder.pred_obj_score_head)
    assert has_grad(sam.obj_ptr_proj) and has_grad(sam.obj_ptr_tpos_proj)
    for name in ('maskmem_tpos_enc', 'no_mem_embed', 'no_obj_embed_spatial'):
        grad = getattr(sam, name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    # every trainable parameter gets a gradient (no DDP find_unused_parameters needed for an
    # MDP clip); the parts the paper does not train are frozen
    assert [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None] == []
    frozen = [n for n, p in head.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(('sam2.sam_prompt_encoder.', 'sam2.mask_downsample.',
                                        'sam2.no_mem_pos_enc',
                                        'sam2.sam_mask_decoder.iou_prediction_head.'))
                          for n in frozen)
    with pytest.raises(ValueError, match='no part'):
        MDPHead(arch=tiny_settings, frozen_parts=('sam_mask_decoder.nothing',))
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    # the frozen image encoder: no parameter requires or receives a gradient
    assert all(not p.requires_grad and p.grad is None for p in encoder.parameters())
