"""RVOSMetric: MeViS protocol, distributed de-duplication, prediction writing, breakdown files."""
import csv
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from tgl_mm.evaluation import RVOSMetric, read_mask_png
from tgl_mm.evaluation.functional import j_and_f_reference
from tgl_mm.registry import METRICS
from tgl_mm.structures.video_data_sample import VideoDataSample


def make_sample(video_id, exp_id, pred, gt=None, text='a cat', **fields):
    t = pred.shape[0]
    s = VideoDataSample(metainfo=dict(video_id=video_id, exp_id=exp_id, text=text,
                                      frame_names=[f'{i:05d}' for i in range(t)]))
    s.pred_masks = torch.as_tensor(pred, dtype=torch.bool)
    if gt is not None:
        s.gt_masks = torch.as_tensor(gt, dtype=torch.bool)
    for k, v in fields.items():
        setattr(s, k, torch.as_tensor(v))
    return s


def random_samples(seed=0, n=5):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t, h, w = int(rng.integers(1, 4)), int(rng.integers(8, 20)), int(rng.integers(8, 20))
        gt = rng.random((t, h, w)) < 0.3
        pred = gt ^ (rng.random((t, h, w)) < 0.1)
        out.append(make_sample(f'vid{i // 2}', str(i % 2), pred, gt))
    return out


def expected_scores(samples):
    js, fs = [], []
    for s in samples:
        j, f = j_and_f_reference(s.pred_masks.numpy(), s.gt_masks.numpy())
        js.append(j.mean())
        fs.append(f.mean())
    j, f = 100 * np.mean(js), 100 * np.mean(fs)
    return j, f, (j + f) / 2


def test_builds_from_registry():
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        metric = METRICS.build(dict(type='RVOSMetric', save_breakdown=False))
    assert isinstance(metric, RVOSMetric) and metric.prefix == 'rvos'


def test_hand_checked_protocol():
    gt = np.zeros((2, 6, 6), bool)
    gt[0, 1:4, 1:4] = True
    same = make_sample('v', '0', gt, gt)  # frame 0 exact, frame 1 both empty: J = F = 1
    missed = make_sample('v', '1', np.zeros_like(gt), gt)  # frame 0: 0; frame 1 empty: 1
    metric = RVOSMetric(save_breakdown=False)
    metric.process(None, [same, missed])
    out = metric.compute_metrics(metric.results)
    # per expression mean over frames: 100 and 50; mean over expressions: 75
    assert out['J'] == 75.0 and out['F'] == 75.0 and out['J&F'] == 75.0
    assert out['num_expressions'] == 2


def test_duplicate_sentences_are_separate_expressions():
    gt = np.ones((1, 4, 4), bool)
    a = make_sample('v', '0', gt, gt, text='the dog')
    b = make_sample('v', '1', ~gt, gt, text='the dog')
    metric = RVOSMetric(save_breakdown=False)
    metric.process(None, [a, b])
    out = metric.compute_metrics(metric.results)
    assert out['num_expressions'] == 2 and out['J'] == 50.0


def test_through_mmengine_evaluator_matches_reference():
    samples = random_samples()
    evaluator = Evaluator(RVOSMetric(save_breakdown=False))
    evaluator.process(samples[:3])
    evaluator.process(samples[3:])
    out = evaluator.evaluate(len(samples))
    j, f, jf = expected_scores(samples)
    assert out['rvos/J'] == pytest.approx(j, abs=1e-9)
    assert out['rvos/F'] == pytest.approx(f, abs=1e-9)
    assert out['rvos/J&F'] == pytest.approx(jf, abs=1e-9)


def test_simulated_distributed_collection_counts_each_expression_once():
    samples = random_samples(seed=1, n=5)
    single = RVOSMetric(save_breakdown=False)
    single.process(None, samples)
    expected = single.compute_metrics(single.results)
    # DefaultSampler-style split over two ranks: rank 0 gets 0, 2, 4; rank 1 gets 1, 3 and pads
    # with sample 0 again. Ranks process dicts, as mmengine's Evaluator passes them.
    ranks = [RVOSMetric(save_breakdown=False), RVOSMetric(save_breakdown=False)]
    ranks[0].process(None, [samples[i].to_dict() for i in (0, 2, 4)])
    ranks[1].process(None, [samples[i].to_dict() for i in (1, 3, 0)])
    gathered = [r for pair in zip(ranks[0].results, ranks[1].results) for r in pair]
    assert len(gathered) == 6
    out = RVOSMetric(save_breakdown=False).compute_metrics(gathered)
    assert out == expected
    assert out['num_expressions'] == 5


def test_conflicting_duplicates_raise():
    gt = np.ones((1, 4, 4), bool)
    metric = RVOSMetric(save_breakdown=False)
    metric.process(None, [make_sample('v', '0', gt, gt), make_sample('v', '0', ~gt, gt)])
    with pytest.raises(ValueError, match='v/0 was scored twice'):
        metric.compute_metrics(metric.results)


def test_writes_predictions_and_breakdown(tmp_path):
    samples = random_samples(seed=2, n=3)
    metric = RVOSMetric(output_dir=str(tmp_path / 'pred'), breakdown_dir=str(tmp_path / 'log'))
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    for s in samples:
        for t, name in enumerate(s.frame_names):
            path = tmp_path / 'pred' / s.video_id / s.exp_id / f'{name}.png'
            np.testing.assert_array_equal(read_mask_png(path), s.pred_masks[t].numpy())
    assert not list((tmp_path / 'pred').rglob('.*'))  # no temporary folders left
    report = json.loads((tmp_path / 'log' / 'rvos_report.json').read_text())
    assert report['J&F'] == pytest.approx(out['J&F'])
    assert [(r['video_id'], r['exp_id']) for r in report['per_expression']] == \
        [('vid0', '0'), ('vid0', '1'), ('vid1', '0')]
    assert len(report['per_expression'][0]['J_frames']) == samples[0].pred_masks.shape[0]
    with open(tmp_path / 'log' / 'rvos_report_per_expression.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and float(rows[0]['J']) == pytest.approx(
        report['per_expression'][0]['J'], rel=1e-5)
    with open(tmp_path / 'log' / 'rvos_report_per_video.csv') as f:
        assert [r['video_id'] for r in csv.DictReader(f)] == ['vid0', 'vid1']


def test_rewriting_an_expression_replaces_it(tmp_path):
    gt = np.zeros((2, 5, 5), bool)
    metric = RVOSMetric(output_dir=str(tmp_path), format_only=True, save_breakdown=False)
    metric.process(None, [make_sample('v', '0', np.ones_like(gt))])
    metric.process(None, [make_sample('v', '0', gt)])
    assert not read_mask_png(tmp_path / 'v' / '0' / '00001.png').any()
    assert sorted(p.name for p in (tmp_path / 'v').iterdir()) == ['0']


def test_format_only_needs_no_ground_truth(tmp_path):
    pred = np.zeros((2, 5, 5), bool)
    pred[:, 1:3, 1:3] = True
    metric = RVOSMetric(output_dir=str(tmp_path), format_only=True, save_breakdown=False)
    metric.process(None, [make_sample('v', '0', pred)])
    out = metric.compute_metrics(metric.results)
    assert 'J' not in out and out['num_expressions'] == 1
    assert read_mask_png(tmp_path / 'v' / '0' / '00000.png')[1, 1]
    with pytest.raises(ValueError, match='output_dir'):
        RVOSMetric(format_only=True)


def test_grounding_figures():
    gt = np.zeros((4, 5, 5), bool)
    s = make_sample('v', '0', gt, gt, gt_mplus=[True, True, False, False],
                    pred_mplus=[False, True, True, False],
                    pred_frame_scores=[0.1, 0.9, 0.3, 0.2])
    metric = RVOSMetric(save_breakdown=False)
    metric.process(None, [s])
    out = metric.compute_metrics(metric.results)
    assert out['gt_mplus_coverage'] == 50.0 and out['pred_mplus_coverage'] == 50.0
    assert out['mplus_frame_iou'] == pytest.approx(100 / 3)
    assert out['keyframe_top1'] == 100.0
    rec = metric.results[0]
    assert rec['gt_spans'] == [[0, 1]] and rec['pred_spans'] == [[1, 2]]


@pytest.mark.parametrize('kwargs, match', [
    (dict(gt=None), 'no gt_masks.*format_only'),
    (dict(gt=np.zeros((2, 5, 6), bool)), r'v/0: pred_masks \(2, 5, 5\) and gt_masks'),
])
def test_bad_samples(kwargs, match):
    s = make_sample('v', '0', np.zeros((2, 5, 5), bool), kwargs['gt'])
    with pytest.raises(ValueError, match=match):
        RVOSMetric(save_breakdown=False).process(None, [s])


def test_missing_fields():
    s = VideoDataSample(metainfo=dict(video_id='v', exp_id='3'))
    with pytest.raises(ValueError, match='v/3: the sample has no pred_masks'):
        RVOSMetric(save_breakdown=False).process(None, [s])
    with pytest.raises(ValueError, match='frame_names'):
        s.pred_masks = torch.zeros(1, 2, 2, dtype=torch.bool)
        s.set_metainfo(dict(frame_names=None))
        RVOSMetric(output_dir='/nonexistent', save_breakdown=False).process(None, [s])


def _families_file(tmp_path, samples, names=('appearance', 'event', 'motion')):
    videos = {}
    for i, s in enumerate(samples):
        videos.setdefault(s.video_id, {})[s.exp_id] = names[i % len(names)]
    path = tmp_path / 'expression_families.json'
    path.write_text(json.dumps({'videos': videos}))
    return path, videos


@pytest.mark.parametrize('via', ['argument', 'dataset_meta'])
def test_per_family_scores(tmp_path, via):
    """With a families file, J, F, J&F and the count per family are in the results, the report
    and each record; each family's figures are those of its expressions alone."""
    samples = random_samples(seed=4, n=7)
    path, videos = _families_file(tmp_path, samples)
    if via == 'argument':
        metric = RVOSMetric(breakdown_dir=str(tmp_path / 'log'), families_file=str(path))
    else:
        metric = RVOSMetric(breakdown_dir=str(tmp_path / 'log'))
        metric.dataset_meta = dict(families_file=str(path))
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    report = json.loads((tmp_path / 'log' / 'rvos_report.json').read_text())
    for family in ('appearance', 'event', 'motion'):
        mine = [s for s in samples if videos[s.video_id][s.exp_id] == family]
        j, f, jf = expected_scores(mine)
        assert out[f'{family}/J'] == pytest.approx(j) and out[f'{family}/F'] == pytest.approx(f)
        assert out[f'{family}/J&F'] == pytest.approx(jf)
        assert out[f'{family}/num_expressions'] == len(mine)
        assert report['per_family'][family]['J&F'] == pytest.approx(jf)
    assert out['J&F'] == pytest.approx(expected_scores(samples)[2])     # overall unchanged
    assert {r['family'] for r in report['per_expression']} == {'appearance', 'event', 'motion'}


def test_no_families_file_no_family_figures(tmp_path):
    metric = RVOSMetric(breakdown_dir=str(tmp_path))
    metric.dataset_meta = dict(families_file=None)
    metric.process(None, random_samples(seed=5, n=3))
    out = metric.compute_metrics(metric.results)
    assert not [k for k in out if '/' in k]
    report = json.loads((tmp_path / 'rvos_report.json').read_text())
    assert 'per_family' not in report and 'family' not in report['per_expression'][0]


def test_families_file_errors_name_the_expression(tmp_path):
    samples = random_samples(seed=6, n=3)
    path, videos = _families_file(tmp_path, samples[:2])
    metric = RVOSMetric(save_breakdown=False, families_file=str(path))
    metric.process(None, samples)
    with pytest.raises(ValueError, match=r"no family for video 'vid1', expression '0'"):
        metric.compute_metrics(metric.results)
    path.write_text(json.dumps({'videos': {'vid0': {'0': 3}}}))
    with pytest.raises(ValueError, match=r"video 'vid0', expression '0', field family"):
        RVOSMetric(save_breakdown=False, families_file=str(path)).compute_metrics(
            metric.results)


def test_report_carries_the_sentence_swap_counts(tmp_path):
    metric = RVOSMetric(breakdown_dir=str(tmp_path))
    metric.dataset_meta = dict(sentence_swap=dict(swapped=2, dropped=1))
    metric.process(None, random_samples(seed=7, n=2))
    metric.compute_metrics(metric.results)
    report = json.loads((tmp_path / 'rvos_report.json').read_text())
    assert report['sentence_swap'] == {'swapped': 2, 'dropped': 1}
