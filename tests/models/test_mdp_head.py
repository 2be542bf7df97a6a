"""MDPHead behaviour: SAM2 tracking without masks, reverse propagation to M- frames, dual path,
memory only from M+, lazy features, batches, absent objects, post-processing."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.heads.mdp_head import MDPHead, postprocess_mask_logits, slice_features
from tgl_mm.models.heads.memory_bank import spatial_memory_frames
from tgl_mm.models.utils.sam2_checkpoint import load_sam2_part
from tgl_mm.registry import MODELS


def build_parts(sam, settings, **head_kwargs):
    sd = sam.state_dict()
    encoder = SAM2ImageEncoder(arch=settings)
    load_sam2_part(encoder.encoder, sd, 'image_encoder.', part='image encoder')
    head = MDPHead(arch=settings, **head_kwargs)
    load_sam2_part(head, sd, '', part='MDP head', exclude=('image_encoder.',),
                   target_prefix='sam2.')
    return encoder, head


@pytest.fixture
def parts(make_tiny_sam2, tiny_settings):
    return build_parts(make_tiny_sam2(seed=5), tiny_settings)


@pytest.fixture
def feats(parts, tiny_images):
    encoder, _ = parts
    with torch.no_grad():
        return encoder(tiny_images)


def sam2_track(sam, images, num_frames):
    """sam2's own tracking loop (SAM2Base.track_step), frame 0 as the initial conditioning frame."""
    out_dict = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
    masks = []
    for t in range(num_frames):
        _, vision, pos, sizes = sam._prepare_backbone_features(sam.forward_image(images[t:t + 1]))
        cur = sam.track_step(frame_idx=t, is_init_cond_frame=t == 0, current_vision_feats=vision,
                             current_vision_pos_embeds=pos, feat_sizes=sizes, point_inputs=None,
                             mask_inputs=None, output_dict=out_dict, num_frames=num_frames)
        out_dict['cond_frame_outputs' if t == 0 else 'non_cond_frame_outputs'][t] = cur
        masks.append(cur['pred_masks'])
    return torch.cat(masks)


@pytest.mark.parametrize('training', [False, True])
def test_all_frames_temporal_matches_sam2_track_step(training, make_tiny_sam2, tiny_settings,
                                                     tiny_images):
    """memory_from='all', order='temporal', no prompt: exactly SAM2's tracking loop, in eval and
    in training mode (dropout off so both runs are deterministic; gradients enabled)."""
    settings = {**tiny_settings,
                'memory_attention': {**tiny_settings['memory_attention'], 'dropout': 0.0}}
    sam = make_tiny_sam2(seed=6)
    sam = type(sam)(image_encoder=sam.image_encoder, memory_attention=sam.memory_attention,
                    memory_encoder=sam.memory_encoder, image_size=settings['image_size'],
                    backbone_stride=16, **settings['model']).train(training)
    for layer in sam.memory_attention.layers:  # the built modules carry dropout 0.1
        for module in layer.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
            if hasattr(module, 'dropout_p'):
                module.dropout_p = 0.0
    encoder, head = build_parts(sam, settings, memory_from='all', order='temporal',
                                multimask_output=True, eval_memory_dtype=None)
    head.train(training)
    num = tiny_images.shape[0]
    ref = sam2_track(sam, tiny_images, num)
    out = head.track_video(encoder(tiny_images), torch.ones(num, dtype=torch.bool))
    assert (out['mask_logits'] - ref).abs().max() <= 1e-4
    assert (ref[1:] > 0).any() and (ref[1:] < 0).any()


def test_mminus_frame_before_mplus_matches_sam2_reverse_tracking(tmp_path, make_tiny_sam2,
                                                                 tiny_settings, tiny_images):
    """An M- frame before the first M+ frame reads the M+ memories like SAM2 tracking backwards
    from a prompted frame (here: mask on frame 3, M+ = frames 3..7)."""
    from PIL import Image
    num = 8
    rng = np.random.default_rng(1)
    for t in range(num):
        img = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).resize((64, 48), Image.BILINEAR).save(tmp_path / f'{t:05d}.jpg')
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:44] = True
    predictor = make_tiny_sam2(SAM2VideoPredictor, seed=8, fill_hole_area=0).eval()
    state = predictor.init_state(str(tmp_path))
    predictor.add_new_mask(state, frame_idx=3, obj_id=1, mask=mask)
    for _ in predictor.propagate_in_video(state):  # forward over 3..7
        pass
    reverse = {t: m for t, _, m in predictor.propagate_in_video(state, reverse=True)}
    ref = state['output_dict_per_obj'][0]['non_cond_frame_outputs'][2]['pred_masks']

    encoder, head = build_parts(predictor, tiny_settings, multimask_output=True)
    head.eval()
    mplus = torch.tensor([False, False, False, True, True, True, True, True])
    with torch.no_grad():
        out = head.track_video(encoder(state['images']), mplus,
                               mask_inputs={3: torch.from_numpy(mask)})
    assert out['order'][:5] == [3, 4, 5, 6, 7]
    assert (out['mask_logits'][2:3] - ref).abs().max() <= 1e-4
    assert 2 in reverse and (ref > 0).any()


class Spy:
    """Records sparse prompt sizes given to the mask decoder and memory-encoder calls."""

    def __init__(self, head: MDPHead):
        self.prompt_tokens: list[int] = []
        self.memory_writes = 0
        decoder, mem_enc = head.sam2.sam_mask_decoder, head.sam2.memory_encoder
        decoder.register_forward_pre_hook(self._decoder, with_kwargs=True)
        mem_enc.register_forward_hook(lambda *_: self._count())

    def _decoder(self, module, args, kwargs):
        self.prompt_tokens.append(kwargs['sparse_prompt_embeddings'].shape[1])

    def _count(self):
        self.memory_writes += 1


MPLUS = torch.tensor([False, True, True, False, True, False])


@pytest.mark.parametrize('mfe,memory_from', [(True, 'mplus'), (False, 'mplus'), (True, 'all')])
def test_dual_path_prompt_and_memory_writes(mfe, memory_from, parts, feats, tiny_settings):
    _, ref_head = parts
    head = MDPHead(arch=tiny_settings, mfe=mfe, memory_from=memory_from).eval()
    head.load_state_dict(ref_head.state_dict())
    spy = Spy(head)
    prompt = torch.randn(1, 3, head.hidden_dim)  # 3 tokens; SAM2's empty prompt has 2
    with torch.no_grad():
        out = head.track_video(feats, MPLUS, prompt)
    order = out['order']
    assert order == [1, 2, 4, 0, 3, 5]  # M+ first, then M- (after their nearest memories)
    with_prompt = [t for t, n in zip(order, spy.prompt_tokens) if n == 3]
    assert sorted(with_prompt) == ([1, 2, 4] if mfe else list(range(6)))
    # M+ frames are encoded into memory (every frame for 'all', but the last one: nobody reads it)
    assert spy.memory_writes == (3 if memory_from == 'mplus' else 5)
    assert head.adapted_frames(MPLUS).tolist() == (MPLUS.tolist() if mfe else [True] * 6)


def test_mminus_features_only_affect_their_own_frame(parts, feats):
    _, head = parts
    head.eval()
    with torch.no_grad():
        base = head.track_video(feats, MPLUS)['mask_logits']
        changed = dict(feats, backbone_fpn=[f.clone() for f in feats['backbone_fpn']])
        top = changed['backbone_fpn'][2]
        top[3] += torch.randn_like(top[3])  # M- frame 3
        out = head.track_video(changed, MPLUS)['mask_logits']
        diff = (out - base).flatten(1).abs().amax(1)
        assert diff[3] > 1e-3 and torch.all(diff[[0, 1, 2, 4, 5]] == 0)
        changed = dict(feats, backbone_fpn=[f.clone() for f in feats['backbone_fpn']])
        top = changed['backbone_fpn'][2]
        top[2] += torch.randn_like(top[2])  # M+ frame 2: its memory reaches the other frames
        diff = (head.track_video(changed, MPLUS)['mask_logits'] - base).flatten(1).abs().amax(1)
        assert torch.all(diff[[0, 3, 4, 5]] > 0) and diff[1] == 0


def test_lazy_features_follow_the_plan(parts, feats):
    _, head = parts
    head.eval()
    requested = []

    def source(t):
        requested.append(t)
        return {k: [x[t:t + 1] for x in v] if isinstance(v, list) else v[t:t + 1]
                for k, v in feats.items()}

    with torch.no_grad():
        lazy = head.track_video(source, MPLUS)
        eager = head.track_video(feats, MPLUS)
        streamed = dict(head.iter_video(feats, MPLUS))
    assert requested == [s.frame for s in head.plan(MPLUS)] == lazy['order']
    assert torch.equal(lazy['mask_logits'], eager['mask_logits'])
    assert sorted(streamed) == list(range(6))
    assert torch.equal(streamed[5]['mask_logits'], eager['mask_logits'][5:6])


def test_batch_forward_loops_over_videos(parts, feats):
    _, head = parts
    head.eval()
    mplus = torch.stack([MPLUS, torch.tensor([True, True, False, False, True, True])])
    doubled = {k: [torch.cat([x, x.flip(0)]) for x in v] if isinstance(v, list)
               else torch.cat([v, v.flip(0)]) for k, v in feats.items()}
    prompt = torch.randn(2, 2, head.hidden_dim)
    with torch.no_grad():
        out = head(doubled, mplus, prompt, multimask_output=True)
        second = head.track_video({k: [x.flip(0) for x in v] if isinstance(v, list)
                                   else v.flip(0) for k, v in feats.items()},
                                  mplus[1], prompt[1], multimask_output=True)
    assert out['mask_logits'].shape == (2, 6, 1, 16, 16)
    assert out['multimask_logits'].shape == (2, 6, 3, 16, 16)
    assert out['iou_predictions'].shape == (2, 6, 3)
    assert out['object_score_logits'].shape == (2, 6, 1)
    assert torch.allclose(out['mask_logits'][1], second['mask_logits'])
    assert out['order'][1] == second['order']


def test_batch_with_shared_plans_runs_videos_together(parts, feats):
    """Videos with the same M+ flags and mask frames run as one batch per frame; the outputs
    equal the video-by-video ones (and a video with another plan runs on its own)."""
    _, head = parts
    head.eval()
    other = torch.tensor([True, True, False, False, True, True])
    mplus = torch.stack([MPLUS, other, MPLUS])
    videos = [feats, {k: [x.flip(0) for x in v] if isinstance(v, list) else v.flip(0)
                      for k, v in feats.items()},
              {k: [x.roll(1, 0) for x in v] if isinstance(v, list) else v.roll(1, 0)
               for k, v in feats.items()}]
    batched = {k: [torch.cat([vid[k][i] for vid in videos]) for i in range(len(v))]
               if isinstance(v, list) else torch.cat([vid[k] for vid in videos])
               for k, v in feats.items()}
    prompt = torch.randn(3, 2, head.hidden_dim)
    masks = [{1: torch.rand(64, 64) > 0.7} for _ in range(3)]
    spy = Spy(head)
    with torch.no_grad():
        out = head(batched, mplus, prompt, mask_inputs=masks)
        calls = len(spy.prompt_tokens)
        alone = [head.track_video(videos[b], mplus[b], prompt[b], masks[b]) for b in range(3)]
    for b in range(3):
        assert torch.allclose(out['mask_logits'][b], alone[b]['mask_logits'], atol=1e-5)
        assert torch.allclose(out['object_score_logits'][b], alone[b]['object_score_logits'],
                              atol=1e-5)
        assert out['order'][b] == alone[b]['order']
    # videos 0 and 2 share a plan: two batched passes instead of three
    assert 3 * calls == 2 * (len(spy.prompt_tokens) - calls)


def test_absent_object_gives_empty_mask(parts, feats):
    _, head = parts
    head.train()
    head.sam2.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.data.fill_(-20.0)
    out = head.track_video(feats, MPLUS, torch.randn(1, 2, head.hidden_dim))
    assert (out['object_score_logits'] < 0).all()
    assert (out['mask_logits'] == -1024).all()
    assert out['mask_logits_ungated'].std() > 0
    # the gated logits carry no gradient to the decoder; the ungated ones and the scores do
    out['mask_logits_ungated'].mean().backward()
    grad = head.sam2.sam_mask_decoder.output_hypernetworks_mlps[0].layers[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_postprocess_crops_padding_and_resizes():
    logits = torch.full((2, 1, 16, 16), -5.0)
    logits[:, :, 12:, :] = 5.0  # only in the bottom padding of a 48 x 64 image padded to 64
    logits[1, :, 2:6, 2:6] = 5.0
    out = postprocess_mask_logits(logits, 64, img_shape=(48, 64), ori_shape=(96, 128))
    assert out.shape == (2, 96, 128)
    assert not (out[0] > 0).any()
    assert (out[1] > 0).float().mean() > 0.02
    assert postprocess_mask_logits(logits, 64).shape == (2, 64, 64)


def test_registered_and_input_errors(feats):
    head = MODELS.build(dict(type='MDPHead', arch='tiny', image_size=64))
    assert isinstance(head, MDPHead)
    with pytest.raises(ValueError, match='text_prompt must be'):
        head.track_video(feats, MPLUS, torch.randn(1, 2, 32))
    with pytest.raises(ValueError, match='features hold 6 frames'):
        head.track_video(feats, torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match='memory_from'):
        MDPHead(arch='tiny', memory_from='everything')


def test_no_mplus_frame_and_single_frame_clips(parts, feats):
    """No M+ frame: nothing is written and every frame is segmented without memory (SAM2's
    no-memory embedding); a single-frame clip (image pretraining) is its own conditioning frame."""
    _, head = parts
    head.eval()
    spy = Spy(head)
    with torch.no_grad():
        out = head.track_video(feats, torch.zeros(6, dtype=torch.bool))
        assert spy.memory_writes == 0 and out['mask_logits'].shape == (6, 1, 16, 16)
        # frames are independent: the first frame alone gives the same result
        one = head.track_video(slice_features(feats, 0, 1), torch.zeros(1, dtype=torch.bool))
        assert torch.equal(one['mask_logits'][0], out['mask_logits'][0])
        single = head.track_video(slice_features(feats, 2, 3), torch.ones(1, dtype=torch.bool),
                                  torch.randn(2, head.hidden_dim))
    assert single['order'] == [0] and spy.memory_writes == 0  # its memory would be unread


def test_text_prompt_per_frame_callable(parts, feats):
    """A callable prompt (e.g. one per encoded chunk of a long video) is asked for M+-path frames
    only and equals passing the same tensor when it is constant."""
    _, head = parts
    head.eval()
    prompt = torch.randn(2, head.hidden_dim)
    asked = []

    def prompt_of(t):
        asked.append(t)
        return prompt

    with torch.no_grad():
        lazy = head.track_video(feats, MPLUS, prompt_of)
        fixed = head.track_video(feats, MPLUS, prompt)
    assert sorted(asked) == [1, 2, 4]
    assert torch.equal(lazy['mask_logits'], fixed['mask_logits'])


@pytest.mark.parametrize('mask_frames', [(), (3,)])
def test_spatial_memory_frames_match_what_memory_attention_reads(mask_frames, parts, feats):
    """spatial_memory_frames names, in order, the memories whose features SAM2's memory attention
    receives (identified by the stored memory features themselves)."""
    _, head = parts
    head.train()
    sam = head.sam2
    written = []
    encode = sam._encode_new_memory

    def record_write(**kwargs):
        mem, pos = encode(**kwargs)
        written.append(mem.flatten(2).permute(2, 0, 1))     # (HW, B, C) as memory attention
        return mem, pos

    seen = []
    sam._encode_new_memory = record_write
    handle = sam.memory_attention.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append((kwargs['memory'], kwargs['num_obj_ptr_tokens'])),
        with_kwargs=True)
    masks = {t: torch.rand(64, 64) > 0.6 for t in mask_frames}
    try:
        with torch.no_grad():
            head.track_video(feats, MPLUS, torch.randn(1, 2, head.hidden_dim), masks)
    finally:
        handle.remove()
        del sam._encode_new_memory
    steps = head.plan(MPLUS, mask_frames=list(masks))
    writers = [s.frame for s in steps if s.write and s.frame not in s.release]
    cond = {s.frame for s in steps if s.cond}
    readers = [s for s in steps if s.reads]
    assert len(seen) == len(readers) and len(written) == len(writers)
    tokens = written[0].shape[0]
    for step, (memory, num_ptr) in zip(readers, seen):
        spatial = memory[:memory.shape[0] - num_ptr]
        chunks = spatial.split(tokens)
        got = [next(f for f, w in zip(writers, written) if torch.equal(w, c)) for c in chunks]
        assert got == spatial_memory_frames(step.reads, cond, sam.num_maskmem)
