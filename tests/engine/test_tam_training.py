"""Training the TAM as it is used (tgl_mm.engine.tam_training): contiguous windows, padding,
held-out videos, the threshold chosen on training data, and learning a toy task."""
import random

import pytest
import torch

from tgl_mm.engine.tam_training import (
    TAMExample,
    choose_threshold,
    collate_examples,
    example_scores,
    mplus_iou,
    sample_window,
    split_by_video,
    tam_train_settings,
    train_tam,
)
from tgl_mm.models.grounding import tam_mplus
from tgl_mm.registry import MODELS

C, D = 8, 6


def test_windows_are_contiguous_and_long_enough():
    rng = random.Random(0)
    assert {sample_window(20, 0.0, 8, rng) for _ in range(20)} == {(0, 20)}
    crops = [sample_window(20, 1.0, 8, rng) for _ in range(200)]
    assert all(0 <= s < e <= 20 and e - s >= 8 for s, e in crops)
    assert len({e - s for s, e in crops}) > 5 and len({s for s, _ in crops}) > 5
    assert sample_window(5, 1.0, 8, rng) == (0, 5)           # shorter than min_frames: whole
    with pytest.raises(ValueError):
        sample_window(0, 0.5, 8, rng)


def _example(qid, video, labels, seed=0, tokens=3):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.tensor(labels, dtype=torch.bool)
    return TAMExample(qid, video, torch.randn(len(labels), C, generator=gen),
                      torch.randn(tokens, D, generator=gen), torch.ones(tokens, dtype=torch.bool),
                      labels)


def test_collate_cuts_windows_and_pads():
    a = _example('v/0', 'v', [0, 1, 1, 0, 0], tokens=2)
    b = _example('w/0', 'w', [1, 1, 0], tokens=4)
    batch = collate_examples([a, b], [(1, 4), (0, 3)])
    assert batch['frame_feats'].shape == (2, 3, C) and batch['text_feats'].shape == (2, 4, D)
    torch.testing.assert_close(batch['frame_feats'][0], a.frame_embeds[1:4])
    assert batch['labels'][0].tolist() == [True, True, False]
    assert batch['text_mask'].tolist() == [[True, True, False, False], [True] * 4]
    whole = collate_examples([a, b])
    assert whole['frame_mask'].tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert not whole['frame_feats'][1, 3:].any()


def test_threshold_is_chosen_for_the_best_mplus():
    gen = torch.Generator().manual_seed(0)
    probs = [torch.rand(12, generator=gen) for _ in range(30)]
    for p in probs:
        p[(p > 0.66) & (p < 0.74)] = 0.9          # no score between two grid values
    labels = [p > 0.7 for p in probs]
    for lab, p in zip(labels, probs):
        lab[int(p.argmax())] = True                   # never empty
    scores = [torch.logit(p) for p in probs]
    threshold, table = choose_threshold(scores, labels)
    assert threshold == 0.7 and table[0.7] == pytest.approx(1.0)
    assert table[0.3] < 1.0 and table[0.9] < 1.0
    assert mplus_iou(tam_mplus(scores[0], 'threshold', threshold), labels[0]) == 1.0
    with pytest.raises(ValueError, match='topk'):
        choose_threshold(scores, labels, mode='topk')


def test_held_out_split_is_by_video():
    examples = [_example(f'v{i}/{k}', f'v{i}', [1, 0]) for i in range(10) for k in range(2)]
    train, held = split_by_video(examples, 0.2, seed=3)
    assert len(held) == 4 and len(train) == 16
    assert not {x.video_id for x in train} & {x.video_id for x in held}
    assert split_by_video(examples, 0.2, seed=3)[1] == held
    assert split_by_video(examples, 0.0)[1] == []
    with pytest.raises(ValueError):
        split_by_video(examples, 1.0)


def test_settings_refuse_unknown_keys():
    from mmengine.config import Config
    assert tam_train_settings(Config(dict(tam_train=dict(iters=5))))['iters'] == 5
    with pytest.raises(ValueError, match='itrs'):
        tam_train_settings(Config(dict(tam_train=dict(itrs=5))))


def _toy(num, seed):
    """Relevant frames: where the frame feature's first channel matches the sentence's sign, in
    videos of 6-14 frames; needs both inputs."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(num):
        steps = int(torch.randint(6, 15, (1,), generator=gen))
        sign = 1.0 if i % 2 else -1.0
        frames = torch.randn(steps, C, generator=gen)
        start = int(torch.randint(0, steps - 3, (1,), generator=gen))
        labels = torch.zeros(steps, dtype=torch.bool)
        labels[start:start + 3] = True
        frames[:, 0] = -2.0 * sign
        frames[labels, 0] = 2.0 * sign
        text = torch.randn(3, D, generator=gen)
        text[:, 0] = sign
        out.append(TAMExample(f'v{i}/0', f'v{i}', frames, text,
                              torch.ones(3, dtype=torch.bool), labels))
    return out


def test_train_tam_learns_and_calibrates():
    torch.manual_seed(0)
    tam = MODELS.build(dict(type='TemporalAlignmentModule', in_channels=C, text_dim=D,
                            embed_dim=16, num_heads=2))
    train, held = _toy(64, 0), _toy(16, 1)
    logged = []
    losses = train_tam(tam, train, iters=150, batch_size=8, lr=3e-3, crop_prob=0.5,
                       min_frames=4, seed=0, log=lambda i, v: logged.append(i), log_interval=50)
    assert logged == [50, 100, 150] and not tam.training
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:20]) / 20
    scores = example_scores(tam, held)
    threshold, table = choose_threshold(scores, [x.labels for x in held])
    everything = sum(mplus_iou(torch.ones_like(x.labels), x.labels) for x in held) / len(held)
    assert table[threshold] > everything + 0.3
    tam.calibrate(threshold)
    centred = example_scores(tam, held, calibrated=True)
    for raw, c in zip(scores, centred):
        assert torch.equal(tam_mplus(c, 'threshold', 0.5), tam_mplus(raw, 'threshold',
                                                                      threshold))


def test_calibrated_threshold_travels_in_the_state_dict():
    make = dict(type='TemporalAlignmentModule', in_channels=C, text_dim=D, embed_dim=16,
                num_heads=2)
    tam = MODELS.build(make)
    assert tam.threshold == pytest.approx(0.5)
    tam.calibrate(0.3)
    other = MODELS.build(make)
    other.load_state_dict(tam.state_dict())
    assert other.threshold == pytest.approx(0.3)
    old = {k: v for k, v in tam.state_dict().items() if k != 'decision_logit'}
    other.load_state_dict(old)                    # saved before the buffer: uncalibrated
    assert other.threshold == pytest.approx(0.5)
    with pytest.raises(ValueError):
        tam.calibrate(1.0)


def test_fit_tam_needs_a_tam_config(tmp_path):
    from mmengine.config import Config

    from tgl_mm.engine.tam_training import fit_tam
    cfg = Config(dict(model=dict(type='TGLSAM2', tam=None)))
    with pytest.raises(ValueError, match='no model.tam'):
        fit_tam(cfg, str(tmp_path / 'x.pth'), str(tmp_path / 'y.pth'), str(tmp_path))
    assert not (tmp_path / 'y.pth').exists()
