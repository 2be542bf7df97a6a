"""TemporalAlignmentModule (A.2.2): shapes, padding, detach, loss, learns a toy relevance task."""
import math

import pytest
import torch
import torch.nn.functional as F

from tgl_mm.models.heads.tam import TemporalAlignmentModule
from tgl_mm.registry import MODELS

C, D = 16, 12


def make_tam(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='TemporalAlignmentModule', in_channels=C, text_dim=D, embed_dim=32,
               num_heads=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_shapes_and_tau():
    tam = make_tam(init_tau=0.5)
    scores = tam(torch.randn(2, 7, C), torch.randn(2, 5, D))
    assert scores.shape == (2, 7)
    assert tam.tau.item() == pytest.approx(0.5)
    # s_t = Linear(.) / tau: halving tau doubles the scores
    with torch.no_grad():
        tam.log_tau.fill_(math.log(0.25))
    torch.testing.assert_close(tam(torch.zeros(1, 3, C), torch.zeros(1, 2, D)),
                               2 * make_tam(init_tau=0.5)(torch.zeros(1, 3, C),
                                                          torch.zeros(1, 2, D)))
    with pytest.raises(ValueError, match=r'\(B, T, 16\)'):
        tam(torch.randn(2, 7, C + 1), torch.randn(2, 5, D))


def test_padding_frames_and_tokens_do_not_leak():
    tam = make_tam().eval()
    frames, text = torch.randn(2, 6, C), torch.randn(2, 5, D)
    frame_mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    text_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    base = tam(frames, text, text_mask, frame_mask)
    frames2, text2 = frames.clone(), text.clone()
    frames2[0, 4:] = 100.0
    text2[0, 3:] = -50.0
    again = tam(frames2, text2, text_mask, frame_mask)
    torch.testing.assert_close(again[0, :4], base[0, :4])
    torch.testing.assert_close(again[1], base[1])


def test_loss_matches_hand_computation():
    tam = make_tam()
    scores = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0], [4.0, 4.0, 4.0]])
    labels = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=torch.bool)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=torch.bool)

    def bce(s, y):
        p = 1 / (1 + math.exp(-s))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    clip0 = (bce(0.5, 1) + bce(-1.0, 0) + bce(2.0, 1)) / 3
    clip1 = (bce(1.0, 0) + bce(0.0, 1)) / 2
    expected = (clip0 + clip1) / 2  # clip 2 has no valid frame
    out = tam.loss(scores, labels, mask)['loss_tam']
    assert out.item() == pytest.approx(expected, rel=1e-6)
    unmasked = tam.loss(scores, labels)['loss_tam']
    ref = F.binary_cross_entropy_with_logits(scores, labels.float(), reduction='none'
                                                   ).mean(1).mean()
    torch.testing.assert_close(unmasked, ref)
    with pytest.raises(ValueError, match='differ'):
        tam.loss(scores, labels[:, :2])


def _toy_batch(gen, concepts_v, concepts_t, batch=16, steps=8):
    """Each clip's text names one of K concepts; a frame is relevant when it shows it."""
    k = concepts_v.shape[0]
    which = torch.randint(k, (batch,), generator=gen)
    shown = torch.randint(k, (batch, steps), generator=gen)
    labels = shown == which[:, None]
    frames = concepts_v[shown] + 0.3 * torch.randn(batch, steps, C, generator=gen)
    text = concepts_t[which][:, None].expand(batch, 4, D) + 0.3 * torch.randn(batch, 4, D,
                                                                              generator=gen)
    return frames, text, labels


def test_learns_a_text_dependent_relevance_pattern():
    gen = torch.Generator().manual_seed(0)
    concepts_v, concepts_t = torch.randn(3, C, generator=gen), torch.randn(3, D, generator=gen)
    tam = make_tam()
    opt = torch.optim.Adam(tam.parameters(), lr=5e-3)
    tau0 = tam.tau.item()
    for _ in range(40):
        frames, text, labels = _toy_batch(gen, concepts_v, concepts_t)
        loss = tam.loss(tam(frames, text), labels)['loss_tam']
        opt.zero_grad()
        loss.backward()
        opt.step()
    frames, text, labels = _toy_batch(gen, concepts_v, concepts_t, batch=64)
    with torch.no_grad():
        acc = ((tam(frames, text) > 0) == labels).float().mean().item()
    # chance (always "irrelevant") is 2/3: the frames alone cannot tell, the text is needed
    assert acc > 0.95
    assert tam.tau.item() != pytest.approx(tau0) and tam.tau.item() > 0


def test_rejects_even_kernel():
    with pytest.raises(ValueError, match='odd'):
        TemporalAlignmentModule(kernel_size=4)
