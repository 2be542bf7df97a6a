"""Leakage guard: no grounding but ``oracle`` reads ground truth at test time.

For every grounding registered by tgl_mm except ``oracle`` (none, moment_retrieval, keyframes,
hybrid with a VLM's scores or the TAM's, tam in each mode), a tiny model's predictions (masks,
M+, object and frame scores) are identical when the samples' ground-truth moments and masks are
altered or removed. The oracle, which must read them, changes: the alterations reach the model.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from tgl_mm.registry import GROUNDINGS
from tgl_mm.structures import VideoDataSample

SIZE = 64
T = 8
ORI = (48, 64)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """The tiny TGL of tgl_mm.testing (random adapter, prompt and TAM) with a TAM whose scores
    put some frames of each video in M+ and leave others out."""
    from tgl_mm.apis import init_model
    from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
    from tgl_mm.testing import tiny_tgl_config

    text_dir = save_tiny_text_encoder(tmp_path_factory.mktemp('txt') / 'bert', 'bert',
                                      hidden_size=32, num_layers=4)
    cfg = tiny_tgl_config(text_dir, image_size=SIZE)
    cfg.model.tam = dict(type='TemporalAlignmentModule', in_channels=128, text_dim=32,
                         embed_dim=32, num_heads=4)
    torch.manual_seed(0)
    net = init_model(cfg)
    with torch.no_grad():
        net.tam.score.weight.mul_(20.0)
        net.head.sam2.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(5.0)
    frames = torch.randn(T, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    inputs = net.video_tam_inputs(frames, samples())
    raw = torch.cat([net.tam(x.frame_embeds[None], x.text_feats[None], x.text_mask[None])[0]
                     for x in inputs])
    net.tam.calibrate(float(torch.sigmoid(raw.median())))   # about half the frames relevant
    return net, frames


def samples() -> list[VideoDataSample]:
    """Two expressions of one video with moments (object and M+ level) and masks."""
    out = []
    for exp, (text, span) in enumerate([('the square moving right', (2, 5)),
                                        ('a small circle', (4, 8))]):
        s = VideoDataSample(metainfo=dict(
            text=text, video_id='vid', exp_id=str(exp), has_moments=True,
            frame_names=[f'{i:05d}' for i in range(T)], ori_shape=ORI,
            img_shape=(SIZE * ORI[0] // ORI[1], SIZE), obj_ids=[1],
            obj_moments=[[[span[0], span[1] - 1]]], mplus_spans=[[span[0], span[1] - 1]]))
        s.gt_mplus = torch.zeros(T, dtype=torch.bool)
        s.gt_mplus[span[0]:span[1]] = True
        s.gt_obj_mplus = s.gt_mplus[None].clone()
        s.gt_obj_keep = torch.ones(1, dtype=torch.bool)
        masks = torch.zeros(T, *ORI, dtype=torch.bool)
        masks[span[0]:span[1], 10:30, 12 + 10 * exp:40 + 10 * exp] = True
        s.gt_masks = masks
        out.append(s)
    return out


def altered(kind: str) -> list[VideoDataSample]:
    """:func:`samples` with their ground truth changed: ``shifted`` (moments moved by three
    frames, masks swapped between the expressions), ``replaced`` (moments the complement,
    masks zeroed, metainfo spans the whole video) or ``removed`` (no ground-truth field,
    ``has_moments`` False)."""
    out = samples()
    if kind == 'shifted':
        masks = [s.gt_masks.clone() for s in out]
        for s, other in zip(out, masks[::-1]):
            s.gt_mplus = torch.roll(s.gt_mplus, 3)
            s.gt_obj_mplus = torch.roll(s.gt_obj_mplus, 3, dims=1)
            s.gt_masks = other
            s.set_metainfo(dict(obj_moments=[[[0, 1]]], mplus_spans=[[0, 1]]))
    elif kind == 'replaced':
        for s in out:
            s.gt_mplus = ~s.gt_mplus
            s.gt_obj_mplus = ~s.gt_obj_mplus
            s.gt_obj_keep = torch.zeros(1, dtype=torch.bool)
            s.gt_masks = torch.zeros_like(s.gt_masks)
            s.set_metainfo(dict(obj_moments=[[[0, T - 1]]], mplus_spans=[[0, T - 1]]))
    else:
        for s in out:
            for key in ('gt_mplus', 'gt_obj_mplus', 'gt_obj_keep', 'gt_masks'):
                delattr(s, key)
            s.set_metainfo(dict(has_moments=False, obj_moments=None, mplus_spans=None))
    return out


def write_files(folder: Path) -> dict[str, str]:
    """Moment-retrieval and keyframe prediction files for the two expressions."""
    mr, kf = folder / 'mr.jsonl', folder / 'kf.jsonl'
    mr.write_text(''.join(json.dumps(r) + '\n' for r in [
        {'qid': 'vid/0', 'pred_relevant_windows': [[1, 4, 0.9], [6, 8, 0.4]]},
        {'qid': 'vid/1', 'pred_relevant_windows': [[0, 3, 0.2], [5, 7, 0.8]]}]))
    gen = torch.Generator().manual_seed(5)
    kf.write_text(''.join(json.dumps({'qid': f'vid/{e}', 'frame_scores': torch.rand(
        T, generator=gen).tolist()}) + '\n' for e in range(2)))
    return dict(mr=str(mr), kf=str(kf))


def grounding_configs(files: dict[str, str]) -> dict[str, dict]:
    mr = dict(type='moment_retrieval', pred_file=files['mr'], top_k=2)
    kf = dict(type='keyframes', pred_file=files['kf'], top_k=3)
    return {
        'none': dict(type='none'),
        'moment_retrieval': mr,
        'keyframes': kf,
        'hybrid (VLM keyframes)': dict(type='hybrid', span=mr, keyframes=kf, top_k=2),
        'hybrid (TAM keyframes)': dict(type='hybrid', span=mr, keyframes=None, top_k=2),
        'tam (threshold)': dict(type='tam', mode='threshold'),
        'tam (span)': dict(type='tam', mode='span'),
        'tam (topk)': dict(type='tam', mode='topk', top_k=3),
    }


def predict(net, frames: torch.Tensor, grounding: dict, batch: list[VideoDataSample]) -> list:
    net.grounding = GROUNDINGS.build(grounding)
    out = net.predict(frames[None].expand(len(batch), -1, -1, -1, -1), batch)
    return [(s.pred_masks, s.pred_mplus, s.pred_object_scores,
             s.get('pred_frame_scores')) for s in out]


def same(a: list, b: list) -> bool:
    return all(all((x is None and y is None) or (x is not None and y is not None
                                                 and torch.equal(x, y)) for x, y in zip(p, q))
               for p, q in zip(a, b))


def test_every_grounding_but_oracle_is_covered(tmp_path):
    """A grounding registered by tgl_mm without a case here fails: add it to the guard."""
    built = {type(GROUNDINGS.build(cfg)) for cfg in grounding_configs(write_files(tmp_path))
             .values()}
    registered = {cls for cls in GROUNDINGS.module_dict.values()
                  if cls.__module__.startswith('tgl_mm.')}
    assert registered - built == {GROUNDINGS.get('oracle')}


def test_no_grounding_but_oracle_reads_ground_truth(model, tmp_path):
    net, frames = model
    configs = grounding_configs(write_files(tmp_path))
    oracle = predict(net, frames, dict(type='oracle'), samples())
    assert all(masks.any() for masks, *_ in oracle)          # masks to compare
    assert not same(oracle, predict(net, frames, dict(type='oracle'), altered('shifted')))
    mplus_seen = set()
    for name, cfg in configs.items():
        reference = predict(net, frames, cfg, samples())
        mplus_seen |= {tuple(m.tolist()) for _, m, _, _ in reference}
        assert all(masks.any() for masks, *_ in reference), name
        for kind in ('shifted', 'replaced', 'removed'):
            assert same(reference, predict(net, frames, cfg, altered(kind))), (name, kind)
    # the groundings do choose different frames (none, windows, keyframes, TAM runs)
    assert len(mplus_seen) >= 5


def test_alterations_change_the_ground_truth():
    base = samples()
    for kind in ('shifted', 'replaced'):
        for a, b in zip(base, altered(kind)):
            assert not torch.equal(a.gt_mplus, b.gt_mplus)
            assert not torch.equal(a.gt_masks, b.gt_masks)
    assert all('gt_mplus' not in s and 'gt_masks' not in s for s in altered('removed'))
    assert copy.deepcopy(base[0]).gt_mplus.sum() == 3
