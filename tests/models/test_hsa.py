"""Hierarchical Selective Attention (the adapter's temporal half): patches, clips, time."""
import math

import pytest
import torch

from tgl_mm.models.necks.cross_modal_adapter import AdapterLayer
from tgl_mm.models.necks.hsa import (
    HierarchicalSelectiveAttention,
    from_patches,
    patch_layout,
    sinusoidal_time_embedding,
    to_patches,
)

C = 16


def make_hsa(patch_size=2, seed=0, identity=False):
    torch.manual_seed(seed)
    return HierarchicalSelectiveAttention(C, 4, patch_size, dropout=0.0,
                                          identity_init=identity).eval()


def tokens(num=4, h=4, w=6, seed=0):
    return torch.randn(num, h, w, C, generator=torch.Generator().manual_seed(seed))


def patch_of(y, x, p):
    return y // p, x // p


@pytest.mark.parametrize('h,w,p', [(4, 6, 2), (5, 7, 3), (2, 2, 8), (8, 3, 4), (1, 1, 1)])
def test_shapes_and_patch_roundtrip(h, w, p):
    hsa = make_hsa(p)
    x = tokens(3, h, w)
    out = hsa(x, torch.tensor([0, 0, 1]), torch.tensor([4, 9, 0]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    p_h, p_w, n_h, n_w = patch_layout(h, w, p)
    assert (p_h, p_w) == (min(p, h), min(p, w))
    assert n_h * p_h >= h > (n_h - 1) * p_h and n_w * p_w >= w > (n_w - 1) * p_w
    padded = torch.randn(3, n_h * p_h, n_w * p_w, C)
    seq = to_patches(padded, p_h, p_w)
    assert seq.shape == (n_h * n_w, 3 * p_h * p_w, C)
    assert torch.equal(from_patches(seq, 3, n_h, n_w, p_h, p_w), padded)


def test_runs_under_bfloat16_autocast():
    """Under autocast (``--amp``) the attention computes in bfloat16: the output takes its
    dtype (a float32 buffer could not take the clips' outputs) and is close to float32's."""
    hsa = make_hsa(2)
    x, videos, frames = tokens(4, 4, 6), torch.tensor([0, 0, 1, 1]), torch.tensor([3, 5, 0, 1])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = hsa(x, videos, frames)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), hsa(x, videos, frames), rtol=0.05, atol=0.05)


def test_identity_start_adds_exactly_zero():
    hsa = make_hsa(identity=True)
    out = hsa(tokens(), torch.zeros(4, dtype=torch.long), torch.arange(4))
    assert torch.equal(out, torch.zeros_like(out))
    assert hsa.proj.weight.abs().sum() == 0 and hsa.proj.bias.abs().sum() == 0
    # the rest is a normal initialisation: the module trains away from zero
    assert hsa.pos_embed.abs().sum() > 0 and hsa.attn.in_proj_weight.abs().sum() > 0


def test_a_token_reads_its_own_patch_in_every_frame_of_its_clip_only():
    """Gradient of one output token w.r.t. the inputs: non-zero exactly on the tokens of its
    patch, in every frame of its clip (itself included), zero on other patches and clips."""
    p, h, w = 2, 4, 6
    hsa = make_hsa(p)
    x = tokens(5, h, w).requires_grad_(True)
    video = torch.tensor([0, 0, 1, 0, 1])           # two clips, interleaved rows
    frame = torch.tensor([0, 3, 0, 5, 2])
    y0, x0 = 2, 3
    hsa(x, video, frame)[1, y0, x0].sum().backward()
    touched = x.grad.abs().sum(-1) > 0              # (5, h, w)
    for n in range(5):
        for yy in range(h):
            for xx in range(w):
                expect = video[n] == 0 and patch_of(yy, xx, p) == patch_of(y0, x0, p)
                assert bool(touched[n, yy, xx]) == bool(expect), (n, yy, xx)


def test_padded_patches_attend_only_to_real_tokens():
    """A map that is not a multiple of the patch: the partial bottom-right patch gives what the
    same tokens give alone (padding is never attended), with the same in-patch positions."""
    hsa = make_hsa(3)
    x = tokens(3, 5, 7)                             # patches rows 0-2 / 3-4, cols 0-2 / 3-5 / 6
    video, frame = torch.zeros(3, dtype=torch.long), torch.tensor([1, 2, 7])
    full = hsa(x, video, frame)
    corner = hsa(x[:, 3:5, 6:7].contiguous(), video, frame)
    torch.testing.assert_close(full[:, 3:5, 6:7], corner)
    # a 1-frame clip still attends within the frame's patch (as SAMWISE on single frames)
    assert not torch.allclose(hsa(x[:1], video[:1], frame[:1]), torch.zeros(1, 5, 7, C))


def test_true_frame_indices_enter_the_time_embedding():
    hsa = make_hsa()
    x = tokens()
    video = torch.zeros(4, dtype=torch.long)
    base = hsa(x, video, torch.tensor([0, 1, 2, 3]))
    for other in ([0, 2, 4, 6], [10, 11, 12, 13], [3, 2, 1, 0]):
        assert not torch.allclose(hsa(x, video, torch.tensor(other)), base, atol=1e-4), other
    torch.testing.assert_close(hsa(x, video, torch.tensor([0, 1, 2, 3])), base, rtol=0, atol=0)
    emb = sinusoidal_time_embedding(torch.tensor([0, 1, 50]), 8)
    assert emb.shape == (3, 8)
    torch.testing.assert_close(emb[0], torch.tensor([0., 1.] * 4))           # sin 0, cos 0
    slow = 50 / 10000 ** (6 / 8)                    # the last channel pair's frequency
    torch.testing.assert_close(emb[2, [0, 1, 6, 7]], torch.tensor(
        [math.sin(50), math.cos(50), math.sin(slow), math.cos(slow)]))
    with pytest.raises(ValueError, match='even'):
        sinusoidal_time_embedding(torch.tensor([0]), 7)


def test_frames_of_other_clips_change_nothing():
    hsa = make_hsa()
    x = tokens(5)
    video = torch.tensor([0, 1, 0, 1, 1])
    frame = torch.tensor([0, 0, 1, 1, 2])
    base = hsa(x, video, frame)
    changed = x.clone()
    changed[[1, 3, 4]] += torch.randn(3, 4, 6, C)
    out = hsa(changed, video, frame)
    torch.testing.assert_close(out[[0, 2]], base[[0, 2]], rtol=0, atol=1e-6)
    assert not torch.allclose(out[[1, 3, 4]], base[[1, 3, 4]], atol=1e-3)
    # a clip run alone gives what it gives beside the other clip
    alone = hsa(x[[0, 2]], torch.zeros(2, dtype=torch.long), frame[[0, 2]])
    torch.testing.assert_close(alone, base[[0, 2]], rtol=0, atol=1e-6)


def test_bad_inputs_are_named():
    hsa = make_hsa()
    with pytest.raises(ValueError, match='video_index and frame_index'):
        hsa(tokens(), torch.zeros(3, dtype=torch.long), torch.arange(4))
    with pytest.raises(ValueError, match='patch_size'):
        HierarchicalSelectiveAttention(C, 4, 0)
    layer = AdapterLayer(12, 20, C, 4, hsa_patch_size=2)
    with pytest.raises(ValueError, match='needs frame_index'):
        layer(torch.randn(2, 4, 4, 12), torch.randn(1, 3, 20), torch.zeros(2, dtype=torch.long))


def test_adapter_layer_output_reads_the_same_patch_of_the_other_frames():
    """Through a whole adapter layer (eval: BatchNorm per token, 1x1 projections): an adapted
    frame's output token depends on the other frames of its clip only through its own patch."""
    torch.manual_seed(0)
    layer = AdapterLayer(vision_dim=12, text_dim=20, dim=C, num_heads=4, identity_init=False,
                         hsa_patch_size=2, hsa_dropout=0.0).eval()
    vision = torch.randn(3, 4, 4, 12, requires_grad=True)
    text = torch.randn(2, 5, 20)
    video = torch.tensor([0, 0, 1])
    out, _ = layer(vision, text, video, None, torch.tensor([0, 1, 0]))
    out[0, 1, 2].sum().backward()
    touched = vision.grad.abs().sum(-1) > 0
    expect = torch.zeros(3, 4, 4, dtype=torch.bool)
    expect[:2, 0:2, 2:4] = True                     # patch (0, 1) in frames 0 and 1 of clip 0
    assert torch.equal(touched, expect)
    # without HSA the token reads nothing of the other frames
    plain = AdapterLayer(vision_dim=12, text_dim=20, dim=C, num_heads=4,
                         identity_init=False).eval()
    plain.load_state_dict(layer.state_dict(), strict=False)
    vision.grad = None
    plain(vision, text, video, None)[0][0, 1, 2].sum().backward()
    touched = vision.grad.abs().sum(-1) > 0
    assert touched.sum() == 1 and touched[0, 1, 2]
