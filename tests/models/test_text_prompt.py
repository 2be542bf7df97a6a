"""TextPrompt (Eq. 2): rho = MLP(concat(E_cls, E_motion)), with the no-motion-word fallback."""
import pytest
import torch

from tgl_mm.models.backbones.text_encoder import HFTextEncoder, save_tiny_text_encoder
from tgl_mm.models.heads.text_prompt import TextPrompt, motion_embedding
from tgl_mm.registry import MODELS


def test_motion_embedding_pools_motion_tokens_or_falls_back():
    feats = torch.arange(2 * 5 * 3, dtype=torch.float).view(2, 5, 3)
    content = torch.tensor([[0, 1, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.bool)
    motion = torch.tensor([[0, 0, 1, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    e = motion_embedding(feats, motion, content)
    torch.testing.assert_close(e[0], feats[0, 2:4].mean(0))        # motion tokens
    torch.testing.assert_close(e[1], feats[1, 1:3].mean(0))        # fallback: content tokens
    torch.testing.assert_close(motion_embedding(feats, None, content)[0], feats[0, 1:4].mean(0))
    # motion flags on special tokens are ignored; an empty expression gives zeros
    motion[1, 0] = True
    torch.testing.assert_close(motion_embedding(feats, motion, content)[1], feats[1, 1:3].mean(0))
    assert motion_embedding(feats, None, torch.zeros_like(content))[0].abs().sum() == 0


def test_prompt_shapes_and_equation():
    torch.manual_seed(0)
    prompt = MODELS.build(dict(type='TextPrompt', text_dim=8, prompt_dim=6, hidden_dim=10,
                               num_tokens=2))
    assert [m.__class__.__name__ for m in prompt.mlp] == ['Linear', 'ReLU', 'Linear', 'ReLU',
                                                          'Linear']
    assert prompt.mlp[0].in_features == 16 and prompt.mlp[-1].out_features == 12
    feats = torch.randn(3, 7, 8)
    content = torch.ones(3, 7, dtype=torch.bool)
    content[:, 0] = False
    motion = torch.zeros(3, 7, dtype=torch.bool)
    motion[0, 2] = True
    rho = prompt(feats, content, motion)
    assert rho.shape == (3, 2, 6)
    expected = prompt.mlp(torch.cat([feats[0, 0], feats[0, 2]]))
    torch.testing.assert_close(rho[0].flatten(), expected)
    # the motion words matter, the CLS token matters
    motion2 = motion.clone()
    motion2[0, 2], motion2[0, 3] = False, True
    assert not torch.allclose(prompt(feats, content, motion2)[0], rho[0])
    feats2 = feats.clone()
    feats2[1, 0] += 1
    assert not torch.allclose(prompt(feats2, content, motion)[1], rho[1])
    with pytest.raises(ValueError, match='expected text_dim=8'):
        prompt(torch.randn(1, 3, 9), content[:1, :3])


def test_paper_configuration_parameter_count():
    prompt = TextPrompt(text_dim=768, prompt_dim=256)
    n = sum(p.numel() for p in prompt.parameters())
    assert n == (1536 * 256 + 256) + 2 * (256 * 256 + 256)


def test_prompt_from_real_tokenization_with_and_without_motion(tmp_path):
    enc = HFTextEncoder(model_dir=save_tiny_text_encoder(tmp_path / 'bert', model_type='bert'))
    tokens = enc.tokenize(['the bird that flies away', 'the leftmost elephant'])
    assert tokens['motion_mask'][0].any() and not tokens['motion_mask'][1].any()
    feats = enc(tokens['input_ids'], tokens['attention_mask'])[-1].requires_grad_(True)
    prompt = TextPrompt(text_dim=enc.hidden_size, prompt_dim=16)
    rho = prompt(feats, tokens['content_mask'], tokens['motion_mask'])
    assert rho.shape == (2, 1, 16) and torch.isfinite(rho).all()
    rho.sum().backward()
    assert all(p.grad is not None for p in prompt.parameters())
    # only the CLS, motion (row 0) or content (row 1) tokens receive gradient
    used = feats.grad.abs().sum(-1) > 0
    assert used[0].tolist() == (tokens['motion_mask'][0] | (torch.arange(used.shape[1]) == 0)
                                ).tolist()
    assert used[1].tolist() == (tokens['content_mask'][1] | (torch.arange(used.shape[1]) == 0)
                                ).tolist()
