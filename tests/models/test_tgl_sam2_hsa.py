"""TGLSAM2 with the adapter's HSA: true frame indices in training and at inference, the
official-layout SAM2 checkpoint, parts checkpoints made without HSA."""
from __future__ import annotations

import copy

import pytest
import torch

from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
from tgl_mm.models.segmentors.tgl_sam2 import sampled_frame_index
from tgl_mm.models.utils.part_checkpoint import (
    load_model_parts,
    new_module_prefixes,
    save_model_parts,
)
from tgl_mm.registry import MODELS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils.checkpoint import CheckpointMismatchError

SIZE = 64
TEXT_DIM = 32
HSA = dict(patch_sizes=(4, 2, 1), dropout=0.0)   # adapted maps 8, 4, 2 wide at 64 px
HSA_KEYS = ('neck.layers.0.hsa.', 'neck.layers.1.hsa.', 'neck.layers.2.hsa.')


@pytest.fixture(scope='module')
def text_dir(tmp_path_factory):
    return save_tiny_text_encoder(tmp_path_factory.mktemp('txt') / 'bert', model_type='bert',
                                  hidden_size=TEXT_DIM, num_layers=4)


def build(text_dir, seed=0, hsa=HSA, identity=False, checkpoint=None, present=True,
          **overrides):
    cfg = dict(
        type='TGLSAM2',
        image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=SIZE,
                            checkpoint=checkpoint),
        text_backbone=dict(type='HFTextEncoder', model_dir=str(text_dir)),
        neck=dict(type='CrossModalAdapter', vision_dims=(48, 96, 192), text_dim=TEXT_DIM,
                  dim=32, num_heads=4, identity_init=identity, hsa=hsa),
        prompt=dict(type='TextPrompt', text_dim=TEXT_DIM, prompt_dim=64, hidden_dim=32),
        head=dict(type='MDPHead', arch='tiny', image_size=SIZE, checkpoint=checkpoint),
        loss=dict(type='OSSLoss'),
        test_cfg=dict(grounding=dict(type='oracle'), chunk_size=2))
    cfg.update(overrides)
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    if hsa is not None and not identity:  # as after training: HSA's output map is not zero
        with torch.no_grad():
            for layer in model.neck.layers:
                layer.hsa.proj.weight.normal_(0, 0.5)
    if present:  # objects present, so masks are not empty
        with torch.no_grad():
            model.head.sam2.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(5.0)
    return model


def clip_samples(frame_inds, num_frames=4):
    samples = []
    for b, inds in enumerate(frame_inds):
        meta = dict(text='the cat jumping to the left', video_id=f'v{b}', exp_id='0')
        if inds is not None:
            meta['frame_inds'] = list(inds)
        s = VideoDataSample(metainfo=meta)
        s.gt_mplus = torch.tensor([True, False, True, True][:num_frames])
        samples.append(s)
    return samples


def test_training_clips_use_their_sampled_frame_indices(text_dir):
    """The clip's ``frame_inds`` (the sampled frames' indices in the video) reach HSA's time
    embedding: other indices, other head outputs, with HSA only."""
    inputs = torch.randn(1, 4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))

    def logits(model, inds):
        with torch.no_grad():
            return model(inputs, clip_samples([inds]), mode='tensor')['mask_logits']

    for hsa, matters in ((HSA, True), (None, False)):
        model = build(text_dir, hsa=hsa).eval()
        base = logits(model, [10, 14, 18, 22])
        other = logits(model, [10, 14, 18, 40])
        assert (not torch.allclose(base, other, atol=1e-4)) == matters, hsa
    # no frame_inds: the step in the clip
    model = build(text_dir).eval()
    torch.testing.assert_close(logits(model, None), logits(model, [0, 1, 2, 3]))
    assert sampled_frame_index(clip_samples([[5, 6, 7, 9], None]), 4).tolist() == \
        [[5, 6, 7, 9], [0, 1, 2, 3]]
    with pytest.raises(ValueError, match="'v0'.*3 frame_inds for a clip of 4 frames"):
        sampled_frame_index(clip_samples([[1, 2, 3]]), 4)


def video_sample(mplus):
    num = len(mplus)
    s = VideoDataSample(metainfo=dict(
        text='the square moving right', video_id='vid', exp_id='1',
        frame_names=[f'{i:05d}' for i in range(num)], ori_shape=(48, 64),
        img_shape=(48, SIZE), has_moments=True))
    s.gt_mplus = torch.tensor(mplus)
    return s


def test_inference_chunks_give_hsa_the_true_indices_of_their_mplus_frames(text_dir,
                                                                         monkeypatch):
    model = build(text_dir).eval()
    seen = []
    forward = model.neck.forward

    def spy(*args, frame_index=None, **kwargs):
        seen.append(frame_index.reshape(-1).tolist())
        return forward(*args, frame_index=frame_index, **kwargs)

    monkeypatch.setattr(model.neck, 'forward', spy)
    mplus = [False, True, False, True, True, False, False, True]
    frames = torch.randn(1, 8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    out = model.predict(frames, [video_sample(mplus)])[0]
    # chunks of 2 M+ frames in temporal order: frames 1 and 3, then 4 and 7
    assert seen == [[1, 3], [4, 7]]
    assert out.pred_masks.any()
    # the indices matter: 3 frames more at the start of the video (M+ at 4, 6, 7, 10) change
    # the M+ frames' outputs with HSA, not without (M+ frames are decoded first, from M+ only)
    monkeypatch.undo()
    longer = torch.cat([torch.randn(1, 3, 3, SIZE, SIZE), frames], 1)
    for hsa, matters in ((HSA, True), (None, False)):
        model = build(text_dir, hsa=hsa).eval()
        a = mplus_scores(model, frames, mplus, 0)
        b = mplus_scores(model, longer, [False] * 3 + mplus, 3)
        assert any(abs(a[t] - b[t]) > 1e-4 for t in a) == matters, hsa


def mplus_scores(model, frames, mplus, offset):
    """Object-score logits of the M+ frames, by frame index minus ``offset``."""
    scores = {}

    def keep(k, t, mask, score):
        if mplus[t]:
            scores[t - offset] = score

    with torch.no_grad():
        model.predict_expressions(model.frame_loader(frames[0]), len(mplus),
                                  [video_sample(mplus)], keep)
    return scores


def test_official_layout_sam2_checkpoint_still_loads_exactly(text_dir, tmp_path, make_tiny_sam2,
                                                           save_sam2_checkpoint):
    """With HSA on, an official-layout SAM2 file fills the image encoder and the head tensor for
    tensor; the HSA parts are new, trainable and keep their identity start."""
    sam = make_tiny_sam2(seed=7)
    path = tmp_path / 'sam2_tiny.pt'
    save_sam2_checkpoint(sam, path)
    model = build(text_dir, identity=True, checkpoint=str(path), present=False)
    encoder = model.image_backbone.encoder.state_dict()
    head = model.head.sam2.state_dict()
    for key, value in sam.state_dict().items():
        if key.startswith('image_encoder.'):
            ours = encoder[key[len('image_encoder.'):]]
        else:
            ours = head[key]
        assert torch.equal(ours, value), key
    hsa = {k: p for k, p in model.named_parameters() if '.hsa.' in k}
    assert hsa and all(p.requires_grad for p in hsa.values())
    assert all(not any(k.startswith(p) for p in ('image_backbone.', 'text_backbone.'))
               for k in hsa)
    for layer in model.neck.layers:
        assert layer.hsa.proj.weight.abs().sum() == 0
    trainable, _ = model.parameter_counts()['neck']
    assert trainable == sum(p.numel() for p in model.neck.parameters())


def test_parts_checkpoint_without_hsa_is_refused_unless_asked_for(text_dir, tmp_path):
    source = build(text_dir, seed=1, hsa=None).eval()
    path = tmp_path / 'parts.pt'
    save_model_parts(source.state_dict(), path, ('neck', 'prompt', 'head'))
    with pytest.raises(CheckpointMismatchError) as err:
        build(text_dir, seed=2, identity=True, pretrained=dict(checkpoint=str(path)))
    message = str(err.value)
    assert "part 'neck'" in message and 'missing' in message and 'layers.0.hsa.' in message
    assert f'pretrained.allow_missing={list(HSA_KEYS)}' in message
    with pytest.raises(ValueError, match=r"allow_missing prefixes \['neck.hsa.'\] name no"):
        build(text_dir, identity=True,
              pretrained=dict(checkpoint=str(path), allow_missing=['neck.hsa.']))
    # asked for: everything else loads exactly, HSA keeps its (identity) initialisation
    fresh = build(text_dir, seed=2, identity=True)
    model = build(text_dir, seed=2, identity=True,
                  pretrained=dict(checkpoint=str(path), allow_missing=HSA_KEYS)).eval()
    for key, value in model.state_dict().items():
        part = key.split('.', 1)[0]
        want = fresh if '.hsa.' in key or part not in ('neck', 'prompt', 'head') else source
        assert torch.equal(value, want.state_dict()[key]), key
    # so the model predicts what the same start without HSA predicts
    plain = build(text_dir, seed=2, hsa=None, pretrained=dict(checkpoint=str(path))).eval()
    frames = torch.randn(1, 5, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    mplus = [True, True, False, True, False]
    a = plain.predict(frames, [video_sample(mplus)])[0].pred_masks
    b = model.predict(frames, [copy.deepcopy(video_sample(mplus))])[0].pred_masks
    assert a.any() and torch.equal(a, b)
    # a missing key outside the allowed prefixes is still refused
    state = {k: v for k, v in source.state_dict().items()
             if k.split('.', 1)[0] in ('neck', 'prompt', 'head') and k != 'prompt.mlp.0.weight'}
    torch.save({'state_dict': state, 'meta': {'parts': ['neck', 'prompt', 'head']}},
               tmp_path / 'holed.pt')
    with pytest.raises(CheckpointMismatchError, match="part 'prompt'.*prompt.mlp.0.weight"):
        load_model_parts(model, tmp_path / 'holed.pt', allow_missing=HSA_KEYS)


def test_new_module_prefixes():
    present = ['neck.layers.0.vision_down.0.weight', 'neck.layers.1.text_up.weight', 'head.x']
    missing = ['neck.layers.0.hsa.attn.in_proj_weight', 'neck.layers.0.hsa.pos_embed',
               'neck.layers.1.hsa.norm.bias', 'tam.proj.weight', 'neck.layers.1.text_up.bias']
    assert new_module_prefixes(missing, present) == [
        'neck.layers.0.hsa.', 'neck.layers.1.hsa.', 'neck.layers.1.text_up.bias', 'tam.']


def flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def test_configs_switch_hsa_as_samwise():
    from mmengine.config import Config

    def load(name):
        return Config.fromfile(f'configs/tgl/{name}.py')

    for name in ('tgl_hiera-b_mevis-m', 'tgl_hiera-l_mevis-m', 'tgl_hiera-b_mevis-m_tam',
                 'tgl_hiera-b_ref-ytvos_zeroshot', 'tgl_hiera-b_ref-davis17_zeroshot'):
        assert tuple(load(name).model.neck.hsa.patch_sizes) == (8, 4, 2), name
    for name in ('tgl_hiera-b_mevis-m', 'tgl_hiera-l_mevis-m'):  # start: RefCOCO, no HSA
        assert tuple(load(name).load_allow_missing) == HSA_KEYS, name
    for name in ('tgl_hiera-b_refcoco', 'tgl_hiera-l_refcoco', 'tgl_tiny_synthetic',
                 'tgl_tiny_synthetic_image_pretrain'):
        assert load(name).model.neck.hsa is None, name
    tiny, tiny_hsa = flat(load('tgl_tiny_synthetic').to_dict()), \
        flat(load('tgl_tiny_synthetic_hsa').to_dict())
    differs = {k for k in set(tiny) | set(tiny_hsa) if tiny.get(k) != tiny_hsa.get(k)}
    assert differs == {'model.neck.hsa.patch_sizes', 'model.pretrained.allow_missing'}
    assert tuple(tiny_hsa['model.pretrained.allow_missing']) == HSA_KEYS
    # the Table 2 baseline's HSA twin (benchmarks/synthetic_ablation.py, `baseline+hsa`)
    base = flat(Config.fromfile('configs/tgl/ablations/tiny/t2_baseline.py').to_dict())
    base_hsa = flat(Config.fromfile('configs/tgl/ablations/tiny_hsa/t2_baseline.py').to_dict())
    assert {k for k in set(base) | set(base_hsa) if base.get(k) != base_hsa.get(k)} == differs


def test_a_full_checkpoint_without_hsa_loads_with_the_configs_allow_list(text_dir):
    """The MeViS-M configs start from the RefCOCO checkpoint (no HSA): strict loading refuses
    it, their ``load_allow_missing`` accepts it with HSA at its identity start."""
    from mmengine.config import Config

    from tgl_mm.utils.checkpoint import load_weights_into

    allow = tuple(Config.fromfile('configs/tgl/tgl_hiera-b_mevis-m.py').load_allow_missing)
    source = build(text_dir, seed=1, hsa=None)
    checkpoint = {'state_dict': source.state_dict()}
    model = build(text_dir, seed=2, identity=True)
    with pytest.raises(CheckpointMismatchError, match=r'missing: neck\.layers\.0\.hsa\.'):
        load_weights_into(model, checkpoint, 'refcoco.pth')
    load_weights_into(model, checkpoint, 'refcoco.pth', allow_missing=allow)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source.state_dict().items())
    assert all(layer.hsa.proj.weight.abs().sum() == 0 for layer in model.neck.layers)
