"""CrossModalAdapter (Eq. 1) and lockstep encoding with the tiny SAM2 encoder and a tiny RoBERTa."""
import pytest
import torch

from tgl_mm.models.backbones.text_encoder import HFTextEncoder, save_tiny_text_encoder
from tgl_mm.models.necks.cross_modal_adapter import (
    AdapterLayer,
    CrossModalAdapter,
    proportional_text_layer_ends,
)
from tgl_mm.models.necks.lockstep_encoder import LockstepOutput, lockstep_encode
from tgl_mm.registry import MODELS

TEXTS = ['the bird that flies away', 'cat jumping to the left']
B, T = 2, 3


@pytest.fixture(scope='module')
def text_encoder(tmp_path_factory):
    return HFTextEncoder(model_dir=save_tiny_text_encoder(tmp_path_factory.mktemp('t') / 'rob'))


@pytest.fixture
def tokens(text_encoder):
    return text_encoder.tokenize(TEXTS)


#: HSA for the 64 px tiny encoder (adapted maps 8, 4, 2 wide): several patches per stage
HSA = dict(patch_sizes=(4, 2, 1), dropout=0.0)


def make_adapter(image_encoder, text_encoder, identity=True, seed=0, hsa=None):
    torch.manual_seed(seed)
    adapter = MODELS.build(dict(
        type='CrossModalAdapter',
        vision_dims=[image_encoder.stage_channels[s] for s in (1, 2, 3)],
        text_dim=text_encoder.hidden_size, dim=32, num_heads=4, identity_init=identity,
        hsa=hsa))
    if not identity:  # make every part matter
        with torch.no_grad():
            for layer in adapter.layers:
                layer.vision_scale.uniform_(0.5, 1.5)
                for bn in (layer.vision_down[1], layer.vision_up[1]):
                    bn.running_mean.normal_(0, 0.1)
    return adapter


def encode(image_encoder, text_encoder, adapter, images, tokens, adapt, frame_index=None):
    return lockstep_encode(image_encoder, text_encoder, adapter, images, tokens['input_ids'],
                           tokens['attention_mask'], adapt, frame_index=frame_index)


def assert_feats_close(a: dict, b: dict, rows=None, atol=1e-5):
    for key in ('vision_features', 'vision_pos_enc', 'backbone_fpn'):
        xs, ys = (a[key], b[key]) if isinstance(a[key], list) else ([a[key]], [b[key]])
        for x, y in zip(xs, ys):
            if rows is not None:
                x, y = x[rows], y[rows]
            torch.testing.assert_close(x, y, rtol=0, atol=atol)


@pytest.mark.parametrize('hsa', [None, HSA], ids=['plain', 'hsa'])
def test_identity_start_reproduces_both_encoders(tiny_image_encoder, tiny_images, text_encoder,
                                                 tokens, hsa):
    adapter = make_adapter(tiny_image_encoder, text_encoder, hsa=hsa)
    adapter.train()
    adapt = torch.tensor([[True, False, True], [True, True, True]])
    out = encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens, adapt)
    assert isinstance(out, LockstepOutput)
    with torch.no_grad():
        ref = tiny_image_encoder(tiny_images)
        ref_text = text_encoder(tokens['input_ids'], tokens['attention_mask'])[-1]
    assert_feats_close(out.image_feats, ref)
    real = tokens['attention_mask'].bool()        # padding states are not part of the contract
    torch.testing.assert_close(out.text_feats[real], ref_text[real], rtol=0, atol=1e-5)
    c = ref['vision_features'].shape[1]
    assert out.frame_embeds.shape == (B, T, 2 * c)          # spatial mean, then max
    torch.testing.assert_close(out.frame_embeds[1, 2, :c], ref['vision_features'][5].mean((1, 2)))
    torch.testing.assert_close(out.frame_embeds[1, 2, c:], ref['vision_features'][5].amax((1, 2)))
    assert out.adapt.tolist() == adapt.tolist()
    # per-frame and per-time-step views
    assert out.frame(4)['vision_features'].shape[0] == 1
    at1 = out.frames_at(1)
    torch.testing.assert_close(at1['backbone_fpn'][0], out.image_feats['backbone_fpn'][0][[1, 4]])


def test_raw_path_is_exactly_f_sam_and_adapted_path_differs(tiny_image_encoder, tiny_images,
                                                             text_encoder, tokens):
    adapter = make_adapter(tiny_image_encoder, text_encoder, identity=False).eval()
    adapt = torch.tensor([True, False, False, True, True, False])
    with torch.no_grad():
        out = encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens, adapt)
        ref = tiny_image_encoder(tiny_images)
    raw = (~adapt).nonzero().squeeze(1)
    assert_feats_close(out.image_feats, ref, rows=raw, atol=1e-6)
    for n in adapt.nonzero().squeeze(1).tolist():
        assert not torch.allclose(out.image_feats['vision_features'][n],
                                  ref['vision_features'][n], atol=1e-3)


def test_shared_computation_before_first_adapter(tiny_image_encoder, tiny_images, text_encoder,
                                                 tokens, monkeypatch):
    adapter = make_adapter(tiny_image_encoder, text_encoder)
    calls = []
    forward_stage = tiny_image_encoder.forward_stage

    def spy(x, stage):
        calls.append((stage, x.shape[0]))
        return forward_stage(x, stage)

    monkeypatch.setattr(tiny_image_encoder, 'forward_stage', spy)
    adapt = torch.tensor([True, False, False, True, True, False])
    with torch.no_grad():
        encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens, adapt)
    # stages 0 and 1 (the first adapted stage) once for all 6 frames, then each path on its own
    assert calls == [(0, 6), (1, 6), (2, 3), (2, 3), (3, 3), (3, 3)]
    calls.clear()
    with torch.no_grad():
        encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens,
               torch.ones(6, dtype=torch.bool))
    assert calls == [(0, 6), (1, 6), (2, 6), (3, 6)]


def test_text_attends_only_to_adapted_frames_of_its_video(tiny_image_encoder, tiny_images,
                                                          text_encoder, tokens):
    adapter = make_adapter(tiny_image_encoder, text_encoder, identity=False).eval()
    adapt = torch.tensor([[True, False, True], [False, False, False]])

    def run(images, toks=tokens):
        with torch.no_grad():
            return encode(tiny_image_encoder, text_encoder, adapter, images, toks, adapt)

    base = run(tiny_images)
    plain_text = text_encoder(tokens['input_ids'], tokens['attention_mask'])[-1]
    # video 1 has no adapted frame: its text is the plain encoding, its frames are F_SAM
    torch.testing.assert_close(base.text_feats[1], plain_text[1].detach(), rtol=0, atol=1e-6)
    assert not torch.allclose(base.text_feats[0], plain_text[0], atol=1e-3)
    # changing an M- frame of video 0 leaves its text alone; changing an M+ frame does not
    changed = tiny_images.clone()
    changed[1] += 1.0
    torch.testing.assert_close(run(changed).text_feats, base.text_feats, rtol=0, atol=1e-6)
    changed = tiny_images.clone()
    changed[2] += 1.0
    moved = run(changed)
    assert not torch.allclose(moved.text_feats[0], base.text_feats[0], atol=1e-4)
    torch.testing.assert_close(moved.text_feats[1], base.text_feats[1], rtol=0, atol=1e-6)
    # the adapted frames of video 0 read only expression 0 (eval mode: no BatchNorm coupling)
    other = text_encoder.tokenize([TEXTS[0], 'the leftmost elephant'])
    swapped = run(tiny_images, other)
    assert_feats_close(swapped.image_feats, base.image_feats, rows=torch.tensor([0, 2]),
                       atol=1e-5)  # (float noise only: the padded length changed)
    own = run(tiny_images, text_encoder.tokenize(['the leftmost elephant', TEXTS[1]]))
    assert not torch.allclose(own.image_feats['vision_features'][0],
                              base.image_feats['vision_features'][0], atol=1e-3)


@pytest.mark.parametrize('hsa', [None, HSA], ids=['plain', 'hsa'])
def test_gradients_reach_adapters_not_encoders(tiny_image_encoder, tiny_images, text_encoder,
                                               tokens, hsa):
    adapter = make_adapter(tiny_image_encoder, text_encoder, identity=False, hsa=hsa)
    adapter.train()
    adapt = torch.tensor([True, False, True, True, True, False])
    out = encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens, adapt)
    loss = out.image_feats['vision_features'].square().mean() + out.text_feats.square().mean() \
        + sum(x.square().mean() for x in out.image_feats['backbone_fpn'])
    loss.backward()
    for name, p in adapter.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for module in (tiny_image_encoder, text_encoder):
        assert all(not p.requires_grad and p.grad is None for p in module.parameters())


def test_identity_init_gets_gradient_on_its_zero_parts(tiny_image_encoder, tiny_images,
                                                       text_encoder, tokens):
    adapter = make_adapter(tiny_image_encoder, text_encoder, hsa=HSA).train()
    out = encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens,
                 torch.ones(6, dtype=torch.bool))
    (out.image_feats['vision_features'].square().mean() + out.text_feats.square().mean()).backward()
    for layer in adapter.layers:
        assert layer.vision_scale.grad.abs().sum() > 0
    # the text up projection of the last adapter feeds E_Adp directly
    assert adapter.layers[-1].text_up.weight.grad.abs().sum() > 0
    # once the vision scales have moved (after a step), HSA's zero output map gets gradient
    adapter.zero_grad()
    with torch.no_grad():
        for layer in adapter.layers:
            layer.vision_scale.fill_(0.1)
    out = encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens,
                 torch.ones(6, dtype=torch.bool))
    out.image_feats['vision_features'].square().mean().backward()
    for layer in adapter.layers:
        assert layer.hsa.proj.weight.grad.abs().sum() > 0


def test_init_weights_restores_identity():
    adapter = CrossModalAdapter(vision_dims=(8,), text_dim=16, adapter_stages=(3,), dim=8,
                                num_heads=2, init_cfg=dict(type='Normal', layer='Linear', std=1),
                                hsa=dict(patch_sizes=(2,)))
    adapter.init_weights()
    assert adapter.layers[0].text_up.weight.abs().sum() == 0
    assert adapter.layers[0].vision_scale.abs().sum() == 0
    assert adapter.layers[0].hsa.proj.weight.abs().sum() == 0
    assert adapter.layers[0].hsa.proj.bias.abs().sum() == 0
    assert adapter.layers[0].text_down.weight.abs().sum() > 0


def test_adapter_layer_shapes_and_masking():
    torch.manual_seed(0)
    layer = AdapterLayer(vision_dim=12, text_dim=20, dim=16, num_heads=4, identity_init=False)
    layer.eval()
    vision = torch.randn(3, 4, 5, 12)
    text = torch.randn(2, 6, 20)
    video = torch.tensor([0, 0, 1])
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[1, 4:] = True
    v, t = layer(vision, text, video, pad)
    assert v.shape == vision.shape and t.shape == text.shape
    # padding tokens of expression 1 are never attended: changing them changes nothing else
    text2 = text.clone()
    text2[1, 4:] += 5.0
    v2, t2 = layer(vision, text2, video, pad)
    torch.testing.assert_close(v2, v)
    torch.testing.assert_close(t2[:, :4], t[:, :4])
    # no adapted frame at all: identity
    v0, t0 = layer(vision[:0], text, video[:0], pad)
    assert v0.shape[0] == 0 and torch.equal(t0, text)


def test_schedule_and_validation(tiny_image_encoder, text_encoder):
    assert proportional_text_layer_ends(12) == (1, 4, 8, 12)
    assert proportional_text_layer_ends(6) == (1, 2, 4, 6)
    assert proportional_text_layer_ends(4) == (1, 2, 3, 4)
    adapter = make_adapter(tiny_image_encoder, text_encoder)
    assert adapter.check_encoders(tiny_image_encoder, text_encoder) == (1, 2, 3, 4)
    bad = CrossModalAdapter(vision_dims=(1, 2, 3), text_dim=text_encoder.hidden_size, dim=8,
                            num_heads=2)
    with pytest.raises(ValueError, match='vision_dims'):
        bad.check_encoders(tiny_image_encoder, text_encoder)
    bad = CrossModalAdapter(vision_dims=adapter.vision_dims, text_dim=7, dim=8, num_heads=1)
    with pytest.raises(ValueError, match='text_dim=7'):
        bad.check_encoders(tiny_image_encoder, text_encoder)
    bad = CrossModalAdapter(vision_dims=adapter.vision_dims, text_dim=text_encoder.hidden_size,
                            text_layer_ends=(1, 2, 3), dim=8, num_heads=2)
    with pytest.raises(ValueError, match='one entry per'):
        bad.check_encoders(tiny_image_encoder, text_encoder)
    bad = CrossModalAdapter(vision_dims=adapter.vision_dims, text_dim=text_encoder.hidden_size,
                            text_layer_ends=(1, 3, 2, 4), dim=8, num_heads=2)
    with pytest.raises(ValueError, match='non-decreasing'):
        bad.check_encoders(tiny_image_encoder, text_encoder)
    with pytest.raises(ValueError, match='adapter_stages'):
        CrossModalAdapter(vision_dims=(1, 2), adapter_stages=(2, 1))


def test_bad_batch_errors(tiny_image_encoder, tiny_images, text_encoder, tokens):
    adapter = make_adapter(tiny_image_encoder, text_encoder)
    with pytest.raises(ValueError, match='5 frames cannot be split into 2 videos'):
        encode(tiny_image_encoder, text_encoder, adapter, tiny_images[:5], tokens,
               torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match='adapt has 4 flags for 6 frames'):
        encode(tiny_image_encoder, text_encoder, adapter, tiny_images, tokens,
               torch.ones(4, dtype=torch.bool))


def paper_adapter_param_count(dims=(224, 448, 896), text=768, d=256) -> int:
    mha = 4 * d * d + 4 * d  # in_proj (3 d x d + 3 d) + out_proj (d x d + d)
    per = [c * d + 2 * d + d * c + 2 * c + c + 2 * text * d + 2 * (mha + 2 * d) for c in dims]
    return sum(per)


def test_paper_configuration_parameter_count():
    adapter = CrossModalAdapter(vision_dims=(224, 448, 896), text_dim=768)
    n = sum(p.numel() for p in adapter.parameters())
    assert n == paper_adapter_param_count()
    assert 3.5e6 < n < 3.7e6


def test_hsa_at_initialisation_equals_the_adapter_without_it(tiny_image_encoder, tiny_images,
                                                             text_encoder, tokens):
    """A trained adapter given a fresh HSA (identity start) computes exactly what it computed
    without HSA, in training mode (BatchNorm batch statistics) as in eval."""
    plain = make_adapter(tiny_image_encoder, text_encoder, identity=False)
    with_hsa = make_adapter(tiny_image_encoder, text_encoder, seed=1, hsa=HSA)
    missing, unexpected = with_hsa.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all('.hsa.' in k for k in missing) and not unexpected
    adapt = torch.tensor([[True, False, True], [True, True, True]])
    for mode in (True, False):
        plain.train(mode)
        with_hsa.train(mode)
        a = encode(tiny_image_encoder, text_encoder, plain, tiny_images, tokens, adapt)
        b = encode(tiny_image_encoder, text_encoder, with_hsa, tiny_images, tokens, adapt,
                   frame_index=torch.tensor([[4, 5, 9], [0, 1, 2]]))
        assert_feats_close(a.image_feats, b.image_feats, atol=0)
        assert torch.equal(a.text_feats, b.text_feats)


def nonzero_hsa(adapter):
    """Give every HSA a non-zero output map (as after training)."""
    with torch.no_grad():
        for layer in adapter.layers:
            layer.hsa.proj.weight.normal_(0, 0.5)
    return adapter


def test_hsa_clips_are_the_adapted_frames_of_one_expression(tiny_image_encoder, tiny_images,
                                                            text_encoder, tokens):
    """Expressions side by side: an adapted frame reads the adapted frames of its own clip
    only (not another expression's, not its own clip's M- frames), with their frame indices."""
    adapter = nonzero_hsa(make_adapter(tiny_image_encoder, text_encoder, identity=False,
                                       hsa=HSA)).eval()
    adapt = torch.tensor([[True, False, True], [True, True, False]])
    index = torch.tensor([[3, 4, 8], [0, 1, 2]])

    def run(images, frame_index=index):
        with torch.no_grad():
            return encode(tiny_image_encoder, text_encoder, adapter, images, tokens, adapt,
                          frame_index).image_feats['vision_features']

    base = run(tiny_images)
    for frame, same_clip in ((3, False), (4, False), (1, False), (2, True)):
        changed = tiny_images.clone()
        changed[frame] += 1.0
        out = run(changed)
        other = 2 if frame != 2 else 0              # an adapted frame of clip 0, not changed
        moved = not torch.allclose(out[other], base[other], atol=1e-5)
        assert moved == same_clip, frame
    # the same clip run on its own (expression 0 alone) gives the same features
    alone = lockstep_encode(tiny_image_encoder, text_encoder, adapter, tiny_images[:3],
                            tokens['input_ids'][:1], tokens['attention_mask'][:1], adapt[:1],
                            frame_index=index[:1])
    torch.testing.assert_close(alone.image_feats['vision_features'][[0, 2]], base[[0, 2]],
                               rtol=0, atol=1e-5)
    # the frame indices reach the time embedding: other gaps, other features (adapted only)
    shifted = run(tiny_images, torch.tensor([[3, 4, 12], [0, 1, 2]]))
    assert not torch.allclose(shifted[[0, 2]], base[[0, 2]], atol=1e-4)
    torch.testing.assert_close(shifted[[1, 3, 4, 5]], base[[1, 3, 4, 5]], rtol=0, atol=0)
    # the default is the step in the clip
    torch.testing.assert_close(run(tiny_images, None),
                               run(tiny_images, torch.tensor([[0, 1, 2], [0, 1, 2]])))
    with pytest.raises(ValueError, match='frame_index must hold 2 x 3 integer'):
        run(tiny_images, torch.zeros(2, 2, dtype=torch.long))


def test_hsa_config_validation():
    adapter = CrossModalAdapter(vision_dims=(8, 16), adapter_stages=(2, 3), text_dim=16, dim=8,
                                num_heads=2, hsa=dict(patch_sizes=(4, 2)))
    assert adapter.uses_hsa and adapter.hsa_patch_sizes == (4, 2)
    assert [layer.hsa.patch_size for layer in adapter.layers] == [4, 2]
    plain = CrossModalAdapter(vision_dims=(8, 16), adapter_stages=(2, 3), text_dim=16, dim=8,
                              num_heads=2)
    assert not plain.uses_hsa and all(layer.hsa is None for layer in plain.layers)
    for bad, match in ((dict(patch_sizes=(4,)), 'one integer >= 1 per adapted stage'),
                       (dict(patch_sizes=(4, 0)), 'one integer >= 1'),
                       (dict(patch_sizes=(4, 2.5)), 'one integer >= 1'),
                       (dict(sizes=(4, 2)), 'takes patch_sizes')):
        with pytest.raises(ValueError, match=match):
            CrossModalAdapter(vision_dims=(8, 16), adapter_stages=(2, 3), text_dim=16, dim=8,
                              num_heads=2, hsa=bad)


def paper_hsa_param_count(patch_sizes=(8, 4, 2), d=256) -> int:
    mha = 4 * d * d + 4 * d
    return sum(mha + (d * d + d) + 2 * d + p * p * d for p in patch_sizes)


def test_paper_hsa_parameter_count():
    adapter = CrossModalAdapter(vision_dims=(224, 448, 896), text_dim=768,
                                hsa=dict(patch_sizes=(8, 4, 2)))
    n_hsa = sum(p.numel() for k, p in adapter.named_parameters() if '.hsa.' in k)
    assert n_hsa == paper_hsa_param_count()
    assert sum(p.numel() for p in adapter.parameters()) == \
        paper_adapter_param_count() + paper_hsa_param_count()
    assert all(p.requires_grad for k, p in adapter.named_parameters() if '.hsa.' in k)
