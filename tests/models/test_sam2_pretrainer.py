"""Stage 0: correspondence loss, the pretrainer (loss, tracking, export in the SAM2 layout), the
in-memory tracking clips and the object-track evaluation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tgl_mm.datasets import MeViSDataset, MeViSObjectTracks
from tgl_mm.datasets.synthetic import SyntheticTrackingDataset, make_synthetic_mevis_m
from tgl_mm.evaluation.metrics import TrackingMetric, tracking_scores
from tgl_mm.models.losses.correspondence_loss import (
    BACKGROUND,
    IGNORE,
    POINTER,
    MemoryAttentionRecorder,
    correspondence_nll,
    token_labels,
)
from tgl_mm.models.segmentors import SAM2Pretrainer, export_sam2_checkpoint
from tgl_mm.registry import MODELS
from tgl_mm.structures import VideoDataSample

SIZE = 64


def build(correspondence: bool = True) -> SAM2Pretrainer:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='SAM2Pretrainer',
        image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=SIZE,
                            frozen=False),
        head=dict(type='MDPHead', arch='tiny', image_size=SIZE, memory_from='all',
                  order='temporal', frozen_parts=()),
        loss=dict(type='OSSLoss'),
        correspondence_loss=dict(type='MemoryCorrespondenceLoss') if correspondence else None))


def clip_samples(batch: int = 2, steps: int = 4) -> list[VideoDataSample]:
    samples = []
    for _ in range(batch):
        sample = VideoDataSample(metainfo=dict(video_id='v', img_shape=(48, SIZE),
                                               ori_shape=(48, SIZE)))
        objects = torch.zeros(2, steps, SIZE, SIZE, dtype=torch.bool)
        objects[0, :, 8:24, 8:24] = True
        objects[1, :, 32:48, 32:48] = True
        sample.gt_masks = objects[0]
        sample.gt_object_masks = objects
        samples.append(sample)
    return samples


def test_token_labels():
    masks = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    masks[0, 0, :16, :16] = True          # token (0, 0) fully object 0
    masks[1, 0, 16:, 16:20] = True        # token (1, 1) a quarter object 1
    masks[1, 0, 16:18, :16] = True        # token (1, 0) an eighth object 1
    labels = token_labels(masks, grid=2)
    assert labels.tolist() == [[1, BACKGROUND, IGNORE, IGNORE]]
    assert token_labels(masks, grid=2, on=0.2, off=0.1).tolist() == [[1, 0, IGNORE, 2]]
    assert token_labels(masks[:0], grid=2).tolist() == [[0, 0, 0, 0]]


def test_correspondence_nll_is_the_mass_on_matching_tokens():
    query = torch.tensor([1, 0, IGNORE])
    memory = torch.tensor([1, 1, 0, 2, POINTER])
    uniform = torch.zeros(1, 3, 5)
    # object query: mass 2/5 on matches; background query: 1/5; weighted 1 : 0.2
    expected = (math.log(5 / 2) + 0.2 * math.log(5)) / 1.2
    assert correspondence_nll(uniform, query, memory).item() == pytest.approx(expected)
    sharp = torch.full((1, 3, 5), -30.0)
    sharp[0, 0, :2] = 30.0
    sharp[0, 1, 2] = 30.0
    assert correspondence_nll(sharp, query, memory).item() == pytest.approx(0, abs=1e-6)
    on_pointer = sharp.clone()
    on_pointer[0, 0, 4] = 40.0             # attention taken by the object pointer costs
    assert correspondence_nll(on_pointer, query, memory).item() > 5
    assert correspondence_nll(uniform, torch.tensor([3, IGNORE, 4]), memory).item() == 0


def test_recorder_reproduces_the_memory_attention():
    model = build().eval()
    layer = model.head.sam2.memory_attention.layers[0].cross_attn_image
    seen = {}
    layer.register_forward_hook(lambda m, a, kw, out: seen.update(kw=kw, out=out),
                                with_kwargs=True)
    recorder = MemoryAttentionRecorder(model.head.sam2.memory_attention)
    with torch.no_grad(), recorder:
        model.track_clips(torch.randn(1, 3, 3, SIZE, SIZE), clip_samples(1, 3)[0].gt_masks[:1])
    recorder.close()
    assert len(recorder.logits) == 2 * len(model.head.sam2.memory_attention.layers)
    assert recorder.pointers[0] > 0         # object pointers are part of the softmax
    logits = recorder.logits[-2]            # frame 2, layer 0
    v = layer._separate_heads(layer.v_proj(seen['kw']['v']), layer.num_heads)
    out = layer.out_proj(layer._recombine_heads(logits.softmax(-1) @ v))
    assert torch.allclose(out, seen['out'], atol=1e-5)


def test_pretrainer_loss_and_correspondence_gradient():
    model = build().train()
    losses = model(torch.randn(2, 4, 3, SIZE, SIZE), clip_samples(), mode='loss')
    assert set(losses) == {'loss_focal', 'loss_dice', 'loss_object_score',
                           'loss_correspondence'}
    losses['loss_correspondence'].backward()
    k_proj = model.head.sam2.memory_attention.layers[0].cross_attn_image.k_proj.weight
    assert k_proj.grad is not None and k_proj.grad.abs().sum() > 0
    assert 'loss_correspondence' not in build(correspondence=False)(
        torch.randn(2, 4, 3, SIZE, SIZE), clip_samples(), mode='loss')


def test_predict_tracks_from_the_first_visible_frame_and_exports_sam2_layout(tmp_path):
    model = build().eval()
    sample = VideoDataSample(metainfo=dict(video_id='v', exp_id='track_0', img_shape=(48, SIZE),
                                           ori_shape=(96, 128)))
    gt = torch.zeros(6, 96, 128, dtype=torch.bool)
    gt[2:, 20:50, 20:60] = True
    sample.gt_masks = gt
    out = model(torch.randn(1, 6, 3, SIZE, SIZE), [sample], mode='predict')[0]
    assert out.metainfo['prompt_frame'] == 2
    assert out.pred_masks.shape == (6, 96, 128)
    assert not out.pred_masks[:2].any() and torch.equal(out.pred_masks[2], gt[2])
    metric = TrackingMetric()
    metric.process({}, [out.to_dict()])
    result = metric.compute_metrics(metric.results)
    assert result['tracks'] == 1 and result['copy_J&F'] == 100.0
    # export: official SAM2 layout, loaded by the TGL parts exactly as SAM2's own weights
    path = tmp_path / 'stage0.pt'
    export_sam2_checkpoint(model, path)
    encoder = MODELS.build(dict(type='SAM2ImageEncoder', arch='tiny', image_size=SIZE,
                                checkpoint=str(path)))
    head = MODELS.build(dict(type='MDPHead', arch='tiny', image_size=SIZE,
                             checkpoint=str(path)))
    for ours, theirs in ((encoder.encoder, model.image_backbone.encoder),
                         (head, model.head)):
        reference = theirs.state_dict()
        assert all(torch.equal(v, reference[k]) for k, v in ours.state_dict().items())
    with pytest.raises(ValueError, match='no SAM2Pretrainer'):
        export_sam2_checkpoint({'other.weight': torch.zeros(1)}, tmp_path / 'bad.pt')
    assert not (tmp_path / 'bad.pt').exists()


def test_tracking_scores_after_the_prompt():
    gt = np.zeros((4, 8, 8), dtype=bool)
    gt[:, 2:5, 2:5] = True
    pred = gt.copy()
    pred[3] = False
    scores = tracking_scores(pred, gt, prompt_frame=1)
    assert scores['J'] == pytest.approx(50.0) and scores['copy_J&F'] == 100.0
    assert tracking_scores(pred, gt, prompt_frame=3) == {}


def test_synthetic_tracking_clips_are_deterministic_and_prompted():
    data = SyntheticTrackingDataset(size=96, num_frames=5, video_frames=(8, 10), seed=3)
    a, b = data[7], data[7]
    assert torch.equal(a['inputs'], b['inputs'])
    assert a['inputs'].shape == (5, 3, 96, 96) and a['inputs'].dtype == torch.uint8
    sample = a['data_samples']
    assert sample.gt_masks[0].sum() >= 12
    assert torch.equal(sample.gt_object_masks[sample.metainfo['target']], sample.gt_masks)
    assert not a['inputs'][:, :, 72:].any()           # bottom padding of a 96 x 72 frame
    assert not torch.equal(data[8]['inputs'], a['inputs'])
    other_seed = SyntheticTrackingDataset(size=96, num_frames=5, video_frames=(8, 10), seed=4)
    assert not torch.equal(other_seed[7]['inputs'], a['inputs'])
    with pytest.raises(ValueError, match='num_frames'):
        SyntheticTrackingDataset(num_frames=1)


def test_object_tracks_one_sample_per_object(tmp_path):
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=1, num_valid_u=2, num_valid=1, size=64,
                           min_frames=6, max_frames=8, progress=False, log=None)
    tracks = MeViSObjectTracks(data_root=str(root), split='valid_u', test_mode=True)
    expressions = MeViSDataset(data_root=str(root), split='valid_u', test_mode=True)
    infos = [expressions.get_data_info(i) for i in range(len(expressions))]
    objects = {(e['video_id'], a) for e in infos for a in e['anno_ids']}
    track_infos = [tracks.get_data_info(i) for i in range(len(tracks))]
    assert len(track_infos) == len(objects) > 0
    assert {(t['video_id'], t['anno_ids'][0]) for t in track_infos} == objects
    assert all(t['exp_id'] == f'track_{t["anno_ids"][0]}' for t in track_infos)


SHIPPED = 'checkpoints/tiny_sam2_stage0_synthetic.pt'


def test_shipped_stage0_tracks_with_its_memory(tmp_path):
    """The shipped stage-0 SAM2 tracks the prompted object: clearly better with memory than
    with none (each later frame alone), on synthetic valid_u-style tracks it never saw."""
    from pathlib import Path

    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from tgl_mm.models.utils.sam2_checkpoint import file_sha256

    repo = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(repo / 'configs/tgl/tgl_tiny_synthetic.py')
    assert file_sha256(repo / SHIPPED) == cfg.stage0_sha256
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=1, num_valid_u=3, num_valid=1, seed=11,
                           progress=False, log=None)
    stage0 = Config.fromfile(repo / 'configs/tgl/stage0_tiny_sam2_synthetic.py')
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        tracks = MeViSObjectTracks(data_root=str(root), split='valid_u', test_mode=True,
                                   pipeline=stage0.test_pipeline)
    scores = {}
    for memory in (True, False):
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='SAM2Pretrainer',
            image_backbone=dict(type='SAM2ImageEncoder', arch='tiny', image_size=128,
                                checkpoint=str(repo / SHIPPED)),
            head=dict(type='MDPHead', arch='tiny', image_size=128, memory_from='all',
                      order='temporal', checkpoint=str(repo / SHIPPED)),
            loss=dict(type='OSSLoss'), test_cfg=dict(memory=memory))).eval()
        values = []
        for i in range(min(len(tracks), 6)):
            item = tracks[i]
            data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                                data_samples=[item['data_samples']]), False)
            out = model(data['inputs'], data['data_samples'], mode='predict')[0]
            track = tracking_scores(out.pred_masks.numpy(), out.gt_masks.numpy(),
                                    out.metainfo['prompt_frame'])
            if track:
                values.append(track['J&F'])
        scores[memory] = float(np.mean(values))
    assert scores[True] >= 70 and scores[True] >= scores[False] + 20, scores
