"""Parity with sam2: every frame in M+, no text prompt, a mask on frame 0 -> our image encoder + MDP
head give the same mask logits as sam2's SAM2VideoPredictor on the same weights and frames."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sam2.sam2_video_predictor import SAM2VideoPredictor

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.heads.mdp_head import MDPHead, upsample_mask_logits
from tgl_mm.models.utils.sam2_checkpoint import load_sam2_part

NUM_FRAMES = 8
VIDEO_HW = (48, 80)

# (SAM2Base overrides, multimask_output): the yaml settings (SAM2 tracks with multimask output),
# build_sam2_video_predictor's post-processing (binarised interacted masks in memory, dynamic
# multimask fallback), and single-mask tracking (SAM2 decides it by multimask_output_in_sam; our
# head is told explicitly).
VARIANTS = {
    'yaml': ({}, True),
    'predictor_postprocessing': (dict(
        binarize_mask_from_pts_for_mem_enc=True,
        sam_mask_decoder_extra_args=dict(dynamic_multimask_via_stability=True,
                                         dynamic_multimask_stability_delta=0.05,
                                         dynamic_multimask_stability_thresh=0.98)), True),
    'single_mask': (dict(multimask_output_in_sam=False), False),
}


def write_video(folder, num_frames: int, hw: tuple[int, int]) -> np.ndarray:
    """A blob moving over a textured background, as JPEG frames; returns frame 0's object mask."""
    rng = np.random.default_rng(0)
    h, w = hw
    background = rng.integers(0, 255, size=(h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
    background = np.asarray(Image.fromarray(background).resize((w, h), Image.BILINEAR))
    yy, xx = np.mgrid[:h, :w]
    masks = []
    for t in range(num_frames):
        mask = (yy - h / 2) ** 2 + (xx - 15 - 4 * t) ** 2 < 12 ** 2
        frame = background.copy()
        frame[mask] = (230, 40, 40)
        Image.fromarray(frame).save(folder / f'{t:05d}.jpg', quality=95)
        masks.append(mask)
    return masks[0]


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_mdp_head_matches_sam2_video_predictor(variant, tmp_path, tiny_settings, make_tiny_sam2):
    overrides, multimask = VARIANTS[variant]
    settings = {**tiny_settings, 'model': {**tiny_settings['model'], **overrides}}
    predictor = make_tiny_sam2(SAM2VideoPredictor, seed=11, fill_hole_area=0)
    if overrides:
        state = predictor.state_dict()
        predictor = SAM2VideoPredictor(
            image_encoder=predictor.image_encoder, memory_attention=predictor.memory_attention,
            memory_encoder=predictor.memory_encoder, fill_hole_area=0,
            **{**settings['model'], 'image_size': settings['image_size'], 'backbone_stride': 16})
        predictor.load_state_dict(state)
    predictor.eval()
    mask0 = write_video(tmp_path, NUM_FRAMES, VIDEO_HW)

    # sam2: init_state decodes and normalises the frames; mask on frame 0; propagate
    state = predictor.init_state(str(tmp_path))
    predictor.add_new_mask(state, frame_idx=0, obj_id=1, mask=mask0)
    ref_video = {t: masks[0] for t, _, masks in predictor.propagate_in_video(state)}
    outputs = state['output_dict_per_obj'][0]
    ref = {t: (outputs['cond_frame_outputs'].get(t) or outputs['non_cond_frame_outputs'][t])
           for t in range(NUM_FRAMES)}

    # ours: same weights (loaded through our checkpoint path), same normalised frames
    sd = predictor.state_dict()
    encoder = SAM2ImageEncoder(arch=settings)
    load_sam2_part(encoder.encoder, sd, 'image_encoder.', part='image encoder')
    head = MDPHead(arch=settings).eval()
    load_sam2_part(head, sd, '', part='MDP head', exclude=('image_encoder.',),
                   target_prefix='sam2.')
    images = state['images']
    with torch.no_grad():
        out = head.track_video(lambda t: encoder(images[t:t + 1]),
                               torch.ones(NUM_FRAMES, dtype=torch.bool),
                               mask_inputs={0: torch.from_numpy(mask0)},
                               multimask_output=multimask)

    assert out['order'] == list(range(NUM_FRAMES))
    assert out['mask_logits'].shape == (NUM_FRAMES, 1, 16, 16)
    for t in range(NUM_FRAMES):
        ours = out['mask_logits'][t:t + 1]
        theirs = ref[t]['pred_masks']
        assert (ours - theirs).abs().max().item() <= 1e-4, (variant, t)
        assert torch.allclose(out['object_score_logits'][t:t + 1],
                              ref[t]['object_score_logits'], atol=1e-4)
        video = upsample_mask_logits(ours, VIDEO_HW)
        assert (video - ref_video[t]).abs().max().item() <= 1e-4
    # the comparison is not vacuous: objects are present and the logits vary over frames
    tracked = out['mask_logits'][1:]
    assert (out['object_score_logits'][1:] > 0).all()
    assert (tracked > 0).any() and (tracked < 0).any()
    assert (tracked[0] - tracked[-1]).abs().max() > 1e-3
