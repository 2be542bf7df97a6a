"""The assembled TGL model: training loss and gradients, whole-video inference, grounding."""
from __future__ import annotations

import copy

import pytest
import torch

from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
from tgl_mm.models.segmentors.chunked_features import ChunkedFeatures, path_chunks
from tgl_mm.registry import GROUNDINGS, MODELS
from tgl_mm.structures import VideoDataSample

SIZE = 64
TEXT_DIM = 32


@pytest.fixture(scope='module')
def text_dir(tmp_path_factory):
    return save_tiny_text_encoder(tmp_path_factory.mktemp('txt') / 'bert', model_type='bert',
                                  hidden_size=TEXT_DIM, num_layers=4)


def model_cfg(text_dir, **overrides) -> dict:
    cfg = dict(
        type='TGLSAM2',
        image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=SIZE),
        text_backbone=dict(type='HFTextEncoder', model_dir=str(text_dir)),
        neck=dict(type='CrossModalAdapter', vision_dims=(48, 96, 192), text_dim=TEXT_DIM,
                  dim=32, num_heads=4, identity_init=False),
        prompt=dict(type='TextPrompt', text_dim=TEXT_DIM, prompt_dim=64, hidden_dim=32),
        head=dict(type='MDPHead', arch='tiny', image_size=SIZE),
        loss=dict(type='OSSLoss'),
        test_cfg=dict(grounding=dict(type='oracle'), chunk_size=3))
    cfg.update(overrides)
    return cfg


def build(text_dir, seed=0, **overrides):
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg(text_dir, **overrides))
    model.init_weights()
    return model


def train_batch(num_frames=4, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, num_frames, 3, SIZE, SIZE, generator=gen)
    samples = []
    for b in range(batch):
        s = VideoDataSample(metainfo=dict(text='the cat jumping to the left', video_id=f'v{b}',
                                          exp_id='0'))
        s.gt_mplus = torch.tensor([True, False, True, False][:num_frames])
        masks = torch.zeros(num_frames, SIZE, SIZE, dtype=torch.bool)
        masks[:, 10:30, 20:40] = True
        masks[1] = False  # an OSS-dropped / absent frame
        s.gt_masks = masks
        samples.append(s)
    return inputs, samples


def test_loss_and_gradient_flow(text_dir):
    model = build(text_dir)
    model.train()
    # objects present (positive object-score bias), else SAM2 zeroes the object pointers and
    # their projection gets no gradient by design
    score_head = model.head.sam2.sam_mask_decoder.pred_obj_score_head
    last = score_head.layers[-1] if hasattr(score_head, 'layers') else score_head
    with torch.no_grad():
        last.bias.fill_(4.0)
    inputs, samples = train_batch()
    losses = model(inputs, samples, mode='loss')
    assert set(losses) >= {'loss_focal', 'loss_dice', 'loss_object_score'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    frozen = list(model.image_backbone.parameters()) + list(model.text_backbone.parameters())
    assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)

    def has_grad(module):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        return bool(grads) and all(g is not None for g in grads) and any(
            g.abs().sum() > 0 for g in grads)

    sam = model.head.sam2
    for name, module in [('adapter', model.neck), ('prompt MLP', model.prompt),
                         ('mask decoder', sam.sam_mask_decoder),
                         ('memory attention', sam.memory_attention),
                         ('memory encoder', sam.memory_encoder),
                         ('object pointer', sam.obj_ptr_proj)]:
        assert has_grad(module), f'{name} got no gradient'


def test_activation_checkpointing_same_loss_and_gradients(text_dir, monkeypatch):
    """``image_backbone.activation_checkpointing=True`` recomputes the Hiera blocks that carry
    the adapter's gradient (stages after the first adapter, adapted frames only) and gives the
    same loss and gradients."""
    from tgl_mm.models.backbones import sam2_image_encoder
    calls = []
    original = sam2_image_encoder.checkpoint
    monkeypatch.setattr(sam2_image_encoder, 'checkpoint',
                        lambda fn, x, **kw: calls.append(x.shape[0]) or original(fn, x, **kw))
    grads, losses = [], []
    for flag in (False, True):
        cfg = model_cfg(text_dir)
        cfg['image_backbone'] = dict(cfg['image_backbone'], activation_checkpointing=flag)
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        model.init_weights()
        model.train()
        inputs, samples = train_batch()
        loss = sum(model(inputs, samples, mode='loss').values())
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
        if not flag:
            assert not calls
    blocks = sum(len(model.image_backbone._stage_blocks[s]) for s in (2, 3))
    # 2 clips x 2 adapted frames each, only on stages 2 and 3 (after the first adapter)
    assert calls == [4] * blocks
    torch.testing.assert_close(losses[1], losses[0], rtol=0, atol=0)
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-6, atol=1e-7, msg=name)


def test_frozen_encoders_stay_in_eval_mode(text_dir):
    model = build(text_dir)
    model.train()
    assert not model.image_backbone.training and not model.text_backbone.hf_model.training
    assert model.neck.training and model.head.training


def test_tam_is_frozen_in_training_and_grounds_at_test(text_dir):
    """The segmentation loss does not train the TAM (tools/train_tam.py does); at test time its
    scores ground M+."""
    tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=TEXT_DIM, embed_dim=32,
               num_heads=4)
    model = build(text_dir, tam=tam,
                  test_cfg=dict(grounding=dict(type='tam', mode='topk', top_k=2), chunk_size=2))
    assert not any(p.requires_grad for p in model.tam.parameters())
    inputs, samples = train_batch()
    losses = model(inputs, samples, mode='loss')
    assert not any('tam' in k for k in losses)
    model.eval()
    sample = video_sample(5)
    frames = torch.randn(1, 5, 3, SIZE, SIZE)
    out = model.predict(frames, [sample])[0]
    assert out.pred_frame_scores.shape == (5,)
    assert int(out.pred_mplus.sum()) == 2
    top2 = set(torch.topk(out.pred_frame_scores, 2).indices.tolist())
    assert set(out.pred_mplus.nonzero().flatten().tolist()) == top2


def test_tam_grounding_requires_tam(text_dir):
    with pytest.raises(ValueError, match='needs a TAM'):
        build(text_dir, test_cfg=dict(grounding=dict(type='tam')))


def test_dimension_mismatch_is_named(text_dir):
    with pytest.raises(ValueError, match='prompt_dim'):
        build(text_dir, prompt=dict(type='TextPrompt', text_dim=TEXT_DIM, prompt_dim=32))
    with pytest.raises(ValueError, match='image_size'):
        build(text_dir, head=dict(type='MDPHead', arch='tiny', image_size=96))


def video_sample(num_frames, ori_shape=(48, 64), mplus=None):
    s = VideoDataSample(metainfo=dict(
        text='the square moving right', video_id='vid', exp_id='1',
        frame_names=[f'{i:05d}' for i in range(num_frames)], ori_shape=ori_shape,
        img_shape=(SIZE * ori_shape[0] // ori_shape[1], SIZE), has_moments=True))
    s.gt_mplus = torch.zeros(num_frames, dtype=torch.bool) if mplus is None else mplus
    if mplus is None:
        s.gt_mplus[2:4] = True
    return s


def test_predict_whole_video(text_dir):
    model = build(text_dir).eval()
    frames = torch.randn(1, 7, 3, SIZE, SIZE)
    sample = video_sample(7)
    out = model.predict(frames, [sample])[0]
    assert out.pred_masks.shape == (7, 48, 64) and out.pred_masks.dtype == torch.bool
    assert torch.equal(out.pred_mplus, sample.gt_mplus)  # oracle grounding
    assert out.pred_object_scores.shape == (7,)
    # absent object <=> empty mask (SAM2 semantics)
    for t in range(7):
        if out.pred_object_scores[t] <= 0:
            assert not out.pred_masks[t].any()


def present(model):
    """Make the (random-init) model see an object everywhere: a large object-score bias, so its
    masks are not empty and comparisons between predictions mean something."""
    with torch.no_grad():
        model.head.sam2.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(5.0)
    return model


def test_grounding_changes_the_prediction(text_dir):
    """Oracle and none grounding give different M+ and different masks (not only pred_mplus)."""
    model = present(build(text_dir).eval())
    frames = torch.randn(1, 6, 3, SIZE, SIZE)
    oracle = model.predict(frames, [video_sample(6)])[0]
    model.grounding = GROUNDINGS.build(dict(type='none'))
    none = model.predict(frames, [video_sample(6)])[0]
    assert none.pred_mplus.all() and not oracle.pred_mplus.all()
    assert oracle.pred_masks.any(dim=(1, 2)).all() and none.pred_masks.any(dim=(1, 2)).all()
    differs = (oracle.pred_masks != none.pred_masks).any(dim=(1, 2))
    assert differs[~oracle.pred_mplus].any()      # M- frames: text-free vs text-conditioned


def test_empty_mplus_falls_back_to_the_whole_video(text_dir):
    """A strategy that puts no frame in M+ does not yield a silent text-free output: the model
    reads the sentence on the whole video, as with --grounding none."""
    from tgl_mm.models.grounding.base import BaseGrounding, GroundingResult

    class Nothing(BaseGrounding):
        def ground(self, sample, frame_scores):
            return GroundingResult(torch.zeros(len(sample.metainfo['frame_names']), dtype=bool))

    model = present(build(text_dir).eval())
    frames = torch.randn(1, 5, 3, SIZE, SIZE)
    model.grounding = GROUNDINGS.build(dict(type='none'))
    none = model.predict(frames, [video_sample(5)])[0]
    model.grounding = Nothing()
    empty = model.predict(frames, [video_sample(5)])[0]
    assert empty.pred_mplus.all() and model.grounding.num_fallbacks == 1
    assert torch.equal(empty.pred_masks, none.pred_masks)


def test_chunking_does_not_change_text_free_features(text_dir):
    """Without adapter and prompt every frame's features are F_SAM: chunk size must not matter,
    and chunks are encoded lazily (M+ chunks first, each encoded once)."""
    model = build(text_dir, neck=None, prompt=None).eval()
    frames = torch.randn(1, 7, 3, SIZE, SIZE)
    results = []
    for chunk in (2, 3, 7):
        model.chunk_size = chunk
        results.append(model.predict(frames, [video_sample(7)])[0].pred_masks)
    assert all(torch.equal(results[0], r) for r in results[1:])


def test_chunked_features_source():
    adapt = torch.tensor([False, True, True, False, True, False, False])
    chunks, chunk_of = path_chunks(adapt, 2)
    assert chunks == [[1, 2], [4], [0, 3], [5, 6]]
    assert chunk_of[3] == 2 and chunk_of[4] == 1
    calls = []

    frames = torch.arange(7.0).view(7, 1, 1, 1).expand(7, 3, 2, 2).contiguous()

    def encode(idx, adapted):
        x = frames[idx]
        calls.append((x[:, 0, 0, 0].tolist(), adapted))
        feats = {'vision_features': x.clone(), 'backbone_fpn': [x.clone()]}
        return feats, torch.full((1, 4), float(adapted))

    src = ChunkedFeatures(adapt, encode, chunk_size=2, max_cached=2)
    assert src(4)['vision_features'][0, 0, 0, 0] == 4
    assert src(1)['backbone_fpn'][0].shape == (1, 3, 2, 2)
    assert src.prompt(2)[0, 0] == 1.0 and src.prompt(0)[0, 0] == 0.0
    assert calls == [([4.0], True), ([1.0, 2.0], True), ([0.0, 3.0], False)]
    src(1)  # still cached (LRU of 2: [4] was dropped when [0, 3] came in)
    assert src.num_encoded_chunks == 3
    src(4)  # re-encoded
    assert src.num_encoded_chunks == 4
    with pytest.raises(ValueError):
        path_chunks(adapt, 0)


def test_tensor_mode_returns_head_outputs(text_dir):
    model = build(text_dir).eval()
    inputs, samples = train_batch(batch=1)
    with torch.no_grad():
        out = model(inputs, samples, mode='tensor')
    assert out['mask_logits'].shape == (1, 4, 1, SIZE // 4, SIZE // 4)
    assert out['object_score_logits'].shape[:2] == (1, 4)
    with pytest.raises(ValueError, match='mode'):
        model(inputs, samples, mode='nope')


def test_state_dict_roundtrip_keeps_predictions(text_dir, tmp_path):
    """Saved and reloaded weights predict the same, non-empty masks (a model with other weights
    predicts other masks, so the comparison is not vacuous)."""
    model = present(build(text_dir).eval())
    path = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    other = present(build(text_dir, seed=1).eval())
    frames = torch.randn(1, 4, 3, SIZE, SIZE)
    before = other.predict(frames, [video_sample(4)])[0].pred_masks
    other.load_state_dict(torch.load(path, weights_only=True)['state_dict'])
    a = model.predict(frames, [video_sample(4)])[0].pred_masks
    b = other.predict(frames, [copy.deepcopy(video_sample(4))])[0].pred_masks
    assert a.any(dim=(1, 2)).all()
    assert not torch.equal(a, before)
    assert torch.equal(a, b)


def test_parts_checkpoint_starts_a_model_from_a_stage(text_dir, tmp_path):
    """``pretrained`` loads the exported parts (strict per part, SHA-256 checked) over the
    parts' own initialisation and leaves the other parts alone."""
    from tgl_mm.models.utils.part_checkpoint import load_model_parts, save_model_parts
    from tgl_mm.models.utils.sam2_checkpoint import file_sha256
    from tgl_mm.utils.checkpoint import CheckpointContentError, CheckpointMismatchError

    source = build(text_dir, seed=1)
    path = tmp_path / 'parts.pt'
    save_model_parts(source.state_dict(), path, ('neck', 'prompt', 'head'))
    fresh = build(text_dir, seed=2)
    model = build(text_dir, seed=2, pretrained=dict(checkpoint=str(path),
                                                    checkpoint_sha256=file_sha256(path)))
    for key, value in model.state_dict().items():
        want = source if key.split('.', 1)[0] in ('neck', 'prompt', 'head') else fresh
        assert torch.equal(value, want.state_dict()[key]), key
    with pytest.raises(ValueError, match='SHA-256'):
        build(text_dir, pretrained=dict(checkpoint=str(path), checkpoint_sha256='0' * 64))
    with pytest.raises(ValueError, match='pretrained needs checkpoint'):
        build(text_dir, pretrained=dict(path=str(path)))
    with pytest.raises(ValueError, match='no weights of'):
        save_model_parts(source.state_dict(), tmp_path / 'x.pt', ('tam',))
    assert not (tmp_path / 'x.pt').exists()
    other = build(text_dir, neck=dict(type='CrossModalAdapter', vision_dims=(48, 96, 192),
                                      text_dim=TEXT_DIM, dim=16, num_heads=4))
    with pytest.raises(CheckpointMismatchError, match="part 'neck'.*wrong shape"):
        load_model_parts(other, path)
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'full.pth')
    with pytest.raises(CheckpointContentError, match='not a parts checkpoint'):
        load_model_parts(model, tmp_path / 'full.pth')


def test_tam_reads_the_whole_video_across_chunks(text_dir):
    """TAM scores over a video come from one TAM pass over every chunk's features: a frame's
    score changes when only frames of another chunk change, and equals the TAM applied to
    :meth:`video_tam_inputs` (what tools/train_tam.py trains on), centred on the calibrated
    threshold."""
    tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=TEXT_DIM, embed_dim=32,
               num_heads=4)
    model = build(text_dir, tam=tam, test_cfg=dict(grounding=dict(type='tam'), chunk_size=2))
    model.eval()
    model.tam.calibrate(0.7)
    frames = torch.randn(6, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    scores = model.predict(frames[None], [video_sample(6)])[0].pred_frame_scores
    inputs = model.video_tam_inputs(frames, [video_sample(6)])[0]
    assert inputs.frame_embeds.shape == (6, 128) and inputs.text_mask.dtype == torch.bool
    raw = model.tam(inputs.frame_embeds[None], inputs.text_feats[None], inputs.text_mask[None])
    torch.testing.assert_close(scores, raw[0] - torch.logit(torch.tensor(0.7)), atol=1e-5,
                               rtol=1e-5)
    changed = frames.clone()
    changed[4:] = torch.randn(2, 3, SIZE, SIZE)          # only the last chunk
    again = model.predict(changed[None], [video_sample(6)])[0].pred_frame_scores
    assert not torch.allclose(again[:2], scores[:2])      # frames 0-1 see frames 4-5


def test_tam_scores_sentences_as_one_batch(text_dir, monkeypatch):
    """The K sentences of a video go through the TAM's adapter pass as one batch (one encode
    per chunk, whatever K), and each sentence's TAM inputs equal those of the sentence alone
    (to float rounding; its text cut to its own tokens)."""
    tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=TEXT_DIM, embed_dim=32,
               num_heads=4)
    model = build(text_dir, tam=tam, test_cfg=dict(grounding=dict(type='tam'), chunk_size=2))
    model.eval()
    frames = torch.randn(6, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    samples = [video_sample(6) for _ in range(3)]
    for sample, text in zip(samples, ['the cat', 'a small red square moving to the right',
                                      'the dog that jumps']):
        sample.set_metainfo(dict(text=text))
    calls = []
    original = type(model).encode
    monkeypatch.setattr(type(model), 'encode',
                        lambda self, *a, **k: calls.append(a[1]['input_ids'].shape[0])
                        or original(self, *a, **k))
    together = model.video_tam_inputs(frames, samples)
    assert calls == [3, 3, 3]                               # 3 chunks, all sentences in each
    for sample, x in zip(samples, together):
        alone = model.video_tam_inputs(frames, [sample])[0]
        assert x.text_feats.shape == alone.text_feats.shape and x.text_mask.all()
        torch.testing.assert_close(x.frame_embeds, alone.frame_embeds, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(x.text_feats, alone.text_feats, atol=1e-5, rtol=1e-5)
