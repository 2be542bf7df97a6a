"""OSSLoss (Eq. 7): focal + Dice + object score, per-clip normalisation, empty-target frames."""
import math

import pytest
import torch

from tgl_mm.models.losses.oss_loss import OSSLoss
from tgl_mm.registry import MODELS


def sig(x):
    return 1 / (1 + math.exp(-x))


def focal_px(s, y, alpha=0.25, gamma=2.0):
    p = sig(s)
    ce = -math.log(p) if y else -math.log(1 - p)
    pt = p if y else 1 - p
    return (alpha if y else 1 - alpha) * (1 - pt) ** gamma * ce


def dice_frame(ss, ys):
    ps = [sig(s) for s in ss]
    inter = sum(p * y for p, y in zip(ps, ys))
    return 1 - (2 * inter + 1) / (sum(ps) + sum(ys) + 1)


def bce(s, y):
    return -math.log(sig(s)) if y else -math.log(1 - sig(s))


LOGITS = torch.tensor([
    [[[2.0, -1.0], [0.5, -3.0]], [[-2.0, -2.5], [-1.5, -4.0]], [[1.0, 1.0], [0.0, -0.5]]],
    [[[-1.0, 3.0], [2.0, -2.0]], [[0.3, -0.7], [1.2, -1.1]], [[-3.0, -3.0], [-3.0, -3.0]]],
])
TARGETS = torch.tensor([
    [[[1, 0], [1, 0]], [[0, 0], [0, 0]], [[1, 1], [0, 0]]],   # clip 0: frame 1 empty
    [[[0, 0], [0, 0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]],   # clip 1: all empty
], dtype=torch.bool)
SCORES = torch.tensor([[1.5, -0.5, 2.0], [0.2, -1.0, -2.0]])


def hand(supervise_empty=True, frame_mask=None, wf=1.0, wd=1.0, wo=1.0):
    mask = frame_mask if frame_mask is not None else [[True] * 3] * 2
    focal_c, dice_c, obj_c = [], [], []
    for b in range(2):
        fs, ds, os_ = [], [], []
        for t in range(3):
            ss = LOGITS[b, t].flatten().tolist()
            ys = [int(v) for v in TARGETS[b, t].flatten().tolist()]
            present = any(ys)
            if not mask[b][t]:
                continue
            os_.append(bce(SCORES[b, t].item(), present))
            if present or supervise_empty:
                fs.append(sum(focal_px(s, y) for s, y in zip(ss, ys)) / 4)
                ds.append(dice_frame(ss, ys))
        if fs:
            focal_c.append(sum(fs) / len(fs))
            dice_c.append(sum(ds) / len(ds))
        if os_:
            obj_c.append(sum(os_) / len(os_))
    mean = lambda v: sum(v) / len(v) if v else 0.0
    return wf * mean(focal_c), wd * mean(dice_c), wo * mean(obj_c)


@pytest.mark.parametrize('supervise_empty', [True, False])
def test_matches_hand_computation(supervise_empty):
    loss = MODELS.build(dict(type='OSSLoss', supervise_empty_frames=supervise_empty))
    out = loss(LOGITS, TARGETS, SCORES)
    f, d, o = hand(supervise_empty)
    assert out['loss_focal'].item() == pytest.approx(f, rel=1e-5)
    assert out['loss_dice'].item() == pytest.approx(d, rel=1e-5)
    assert out['loss_object_score'].item() == pytest.approx(o, rel=1e-5)
    if not supervise_empty:
        # the all-empty clip 1 has no mask term: the mask losses are clip 0's alone
        f0 = hand(True, frame_mask=[[True, False, True], [False] * 3])[0]
        assert out['loss_focal'].item() == pytest.approx(f0, rel=1e-5)


def test_weights_and_frame_mask():
    mask = [[True, True, False], [False, True, True]]
    loss = OSSLoss(focal_weight=20.0, dice_weight=0.5, object_score_weight=3.0)
    out = loss(LOGITS, TARGETS, SCORES, torch.tensor(mask))
    f, d, o = hand(True, mask, 20.0, 0.5, 3.0)
    assert [out[k].item() for k in ('loss_focal', 'loss_dice', 'loss_object_score')] == \
        pytest.approx([f, d, o], rel=1e-5)
    assert 'loss_object_score' not in OSSLoss(object_score_weight=0)(LOGITS, TARGETS, SCORES)
    assert set(OSSLoss()(LOGITS, TARGETS)) == {'loss_focal', 'loss_dice'}


def test_empty_targets_edge_cases():
    loss = OSSLoss()
    empty = torch.zeros(1, 2, 4, 4, dtype=torch.bool)
    # predicting nothing on empty targets costs ~nothing; predicting the object costs
    quiet = loss(torch.full((1, 2, 4, 4), -20.0), empty, torch.full((1, 2), -20.0))
    loud = loss(torch.full((1, 2, 4, 4), 5.0), empty, torch.full((1, 2), 5.0))
    for k in quiet:
        assert quiet[k].item() < 1e-6 < loud[k].item()
    # SAM2's -1024 logits for an absent object are fine (finite, no NaN)
    sam2 = loss(torch.full((1, 2, 4, 4), -1024.0), empty, torch.full((1, 2), -3.0))
    assert all(torch.isfinite(v) for v in sam2.values())
    # only-empty frames with SAM2-style gating: zero mask losses, still in the graph
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    gated = OSSLoss(supervise_empty_frames=False)(logits, empty, torch.zeros(1, 2))
    assert gated['loss_focal'].item() == 0 and gated['loss_dice'].item() == 0
    (gated['loss_focal'] + gated['loss_dice']).backward()
    assert logits.grad is not None and logits.grad.abs().sum() == 0
    # all frames masked out: zero, no NaN
    none = loss(LOGITS, TARGETS, SCORES, torch.zeros(2, 3, dtype=torch.bool))
    assert all(v.item() == 0 for v in none.values())


def test_gradient_reduces_the_loss():
    torch.manual_seed(0)
    logits = torch.zeros(2, 3, 8, 8, requires_grad=True)
    scores = torch.zeros(2, 3, requires_grad=True)
    targets = torch.zeros(2, 3, 8, 8, dtype=torch.bool)
    targets[0, :, 2:6, 2:6] = True
    opt = torch.optim.Adam([logits, scores], lr=0.3)
    loss = OSSLoss()
    first = None
    for _ in range(20):
        total = sum(loss(logits, targets, scores).values())
        first = total.item() if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.1 * first


def test_shape_errors():
    with pytest.raises(ValueError, match=r'must both be \(B, T, H, W\)'):
        OSSLoss()(LOGITS[0], TARGETS[0])
    with pytest.raises(ValueError, match='object-score logits'):
        OSSLoss()(LOGITS, TARGETS, SCORES[:, :2])
