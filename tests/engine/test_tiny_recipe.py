"""benchmarks/synthetic_ablation.py: its row bookkeeping, paired verdicts, provenance and README
block (fast), and the tiny recipe end to end (slow): a short stage 2 from the shipped stages
must beat the same start with stage 2 switched off."""
import json

import pytest
import torch


def _report(scores):
    return {'per_expression': [dict(video_id=v, exp_id=e, family=f, J=s - 5, F=s + 5,
                                    **{'J&F': s}) for (v, e, f), s in scores.items()]}


def test_rows_json_and_swap_gap(bench, tmp_path):
    own = _report({('v', '0', 'appearance'): 80.0, ('v', '1', 'event'): 60.0,
                   ('w', '0', 'motion'): 40.0})
    swapped = _report({('v', '0', 'appearance'): 30.0, ('v', '1', 'event'): 50.0})
    results = {'tgl': {0: {'oracle': own, 'none': own, 'oracle_swapped': swapped},
                       1: {'oracle': own, 'none': swapped, 'oracle_swapped': own}}}
    rows = bench.collect(results)
    by = {(r['grounding'], r['family']): r for r in rows}
    assert by[('oracle', 'all')]['jf'] == [60.0, 60.0]
    assert by[('oracle', 'appearance')]['j'] == [75.0, 75.0]
    assert by[('none', 'motion')]['jf'] == [40.0, None]
    gap = by[('oracle: swap gap', 'appearance')]
    assert gap['seeds'] == [0, 1] and gap['jf'] == [50.0, 0.0]
    assert by[('oracle: swap gap', 'all')]['jf'][0] == pytest.approx(30.0)   # w/0 left out
    quality = bench.grounding_quality({**results, 'baseline': {0: {'none': own}}})
    assert [(q['name'], q['grounding']) for q in quality] == [('tgl', 'oracle'), ('tgl', 'none')]
    table = bench.format_markdown(rows, {'all_objects': {'all': 40.0}}, 1)
    assert '| tgl | oracle | 0,1 | 80.0 ± 0.0 | 60.0 ± 0.0 | 40.0 ± 0.0 | 60.0 ± 0.0 |' in table
    assert 'rule `all_objects`' in table
    if bench.plot(rows, tmp_path / 'p.png'):
        assert (tmp_path / 'p.png').read_bytes()[:4] == b'\x89PNG'


@pytest.mark.slow
def test_stage_2_of_the_tiny_recipe_learns(bench, tmp_path):
    """A short stage 2 (TGL on synthetic MeViS-M) from the shipped stages, against the same
    start with stage 2 switched off (learning rate 0: the stage-1 model, which has read no video
    expression): training must raise J&F on the whole split and the `event` swap gap (event
    sentences are never seen by the moment-free stage 1). Fails when stage 2 does not learn,
    e.g. with a broken loss or optimiser."""
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=60, num_valid_u=10, num_valid=1, seed=5,
                           image_frames_per_video=0, progress=False, log=None)
    tests = ('oracle', 'oracle_swapped')
    start = bench.collect({'tgl': {0: bench.one_seed(
        0, str(root), tmp_path / 'start', ['train_cfg.max_iters=1',
                                           'optim_wrapper.optimizer.lr=0'], tests=tests)}})
    trained = bench.collect({'tgl': {0: bench.one_seed(
        0, str(root), tmp_path / 'trained', ['train_cfg.max_iters=300'], tests=tests)}})

    def jf(rows, test, family):
        return next(r['jf'][0] for r in rows if r['grounding'] == test and r['family'] == family)
    assert jf(trained, 'oracle', 'all') > jf(start, 'oracle', 'all') + 5
    gap = jf(trained, 'oracle: swap gap', 'event')
    assert gap > jf(start, 'oracle: swap gap', 'event') + 5 and gap > 5


def test_degraded_windows_reach_the_target_iou():
    from tgl_mm.models.grounding.span_ops import DEGRADE_MODES, degrade_window, window_iou
    for mode in DEGRADE_MODES:
        for iou in (0.9, 0.7, 0.5, 0.3):
            got = degrade_window((20, 40), 100, iou, mode, side=0.3)
            assert 0 <= got[0] < got[1] <= 100
            assert abs(window_iou((20, 40), got) - iou) < 0.06, (mode, iou, got)
    assert degrade_window((0, 10), 10, 0.5, 'widen') == (0, 10)     # clipped: IoU 1
    with pytest.raises(ValueError, match='inside'):
        degrade_window((5, 12), 10, 0.5, 'shift')


def test_grounding_tests_write_prediction_files(bench, tmp_path):
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    from tgl_mm.models.grounding.prediction_files import MomentRetrievalGrounding
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=1, num_valid_u=3, num_valid=1, size=64,
                           min_frames=12, max_frames=16, progress=False, log=None)
    args, cfg = bench.test_args('mr@0.5', str(root), tmp_path / 'g')
    assert args[:2] == ['--grounding', 'moment_retrieval'] and cfg == []
    pred = args[-1].split('=', 1)[1]
    MomentRetrievalGrounding(pred_file=pred)        # a valid prediction file
    assert bench.test_args('oracle_swapped', str(root), tmp_path / 'g') == (
        ['--grounding', 'oracle'], ['test_dataloader.dataset.swap_sentences=True'])


def test_finished_runs_are_found_when_their_provenance_matches(bench, tmp_path):
    work = tmp_path / 'data1'
    done = bench.run_dir(work, 'sampling+oss', 2)
    (done / 'test_oracle' / 'x').mkdir(parents=True)
    (done / 'test_oracle' / 'x' / 'rvos_report.json').write_text('{}')
    (done / 'last_checkpoint').write_text('iter_800.pth')
    half = bench.run_dir(work, 'tgl', 0)          # trained, tests missing
    half.mkdir(parents=True)
    (half / 'last_checkpoint').write_text('iter_800.pth')
    assert bench.finished_runs(work) == [('sampling+oss', 2)]
    prov = {'config_sha256': 'a', 'code': {'commit': 'c1', 'files_sha256': 'f'}, 'seed': 2}
    (done / 'provenance.json').write_text(json.dumps(prov))
    assert bench.finished_runs(work, lambda name, seed: prov) == [('sampling+oss', 2)]
    other_commit = {**prov, 'code': {'commit': 'c2', 'files_sha256': 'f'}}
    assert bench.finished_runs(work, lambda name, seed: other_commit) == [('sampling+oss', 2)]
    other_code = {**prov, 'code': {'commit': 'c1', 'files_sha256': 'g'}}
    assert bench.finished_runs(work, lambda name, seed: other_code) == []
    assert bench.provenance_mismatch(prov, {**other_code, 'iterations': 3}) == [
        'code.files_sha256', 'iterations']


def test_tests_option_selects_each_rows_tests(bench):
    """--tests keeps a row's tests that it names (in the row's order), keeps a row's first test
    when it names none of them (every run is trained and tested once) and refuses unknown
    names."""
    tgl, baseline = bench.ROWS['tgl'].tests, bench.ROWS['baseline'].tests
    assert bench.selected_tests(tgl, None) == tgl
    assert bench.selected_tests(tgl, ['none', 'oracle']) == ('oracle', 'none')
    assert bench.selected_tests(baseline, ['oracle']) == baseline[:1]
    with pytest.raises(SystemExit, match='orcale'):
        bench.selected_tests(tgl, ['orcale'])


def test_progress_line_scales_the_minutes_so_far_to_the_runs_left(bench):
    line = bench.progress_line(3, 45, 'tgl', 0, 12.0)
    assert '3/45 tgl seed 0 done' in line and '12 min so far' in line
    assert 'about 168 min left' in line
    assert 'about 0 min left' in bench.progress_line(45, 45, 'tgl', 4, 150.0)


def test_orderings_are_paired_differences_with_verdicts(bench):
    def rep(scores):
        return _report({('v', str(i), fam): s for i, (fam, s) in enumerate(scores.items())})
    results = {
        'baseline': {s: {'none': rep({'appearance': 50.0, 'event': 20.0})} for s in range(5)},
        'sampling': {s: {'oracle': rep({'appearance': 50.0 + (s % 2) - 0.5,
                                        'event': 30.0 + s})} for s in range(5)},
        'sampling+mdp': {s: {'oracle': rep({'appearance': 40.0 - s, 'event': 60.0})}
                         for s in range(4)},
    }
    out = bench.compare_orderings(results)
    by = {(o['label'], o['family']): o for o in out}
    first = 'moment-aware sampling > random (also: M+ first, oracle test)'
    ev = by[(first, 'event')]
    assert ev['seeds'] == [0, 1, 2, 3, 4] and ev['diffs'] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert ev['mean'] == pytest.approx(12.0) and ev['verdict'] == 'holds'
    assert by[(first, 'appearance')]['verdict'] == 'undecided'     # +-0.5 around 0
    mdp = by[('+ MDP', 'appearance')]                                # 4 shared seeds
    assert mdp['n'] == 4 and mdp['verdict'] == 'reversed'
    assert not any(o['label'] == '+ OSS' for o in out)               # sampling+oss not run
    table = bench.format_orderings(out)
    assert '| + MDP | 58.0 → 59.4 | 4 |' in table and 'reversed' in table
    assert bench.count_verdicts(out, 'event')['holds'] == 2
    assert bench.format_difference({'n': 1, 'mean': 2.0}) == '+2.0 (n=1) undecided'


def test_readme_block_is_rewritten_from_the_json(bench, tmp_path):
    results = {'tgl': {s: {'oracle': _report({('v', '0', 'event'): 60.0 + s})} for s in range(3)},
               'tgl@temporal': {s: {'oracle': _report({('v', '0', 'event'): 50.0})}
                                for s in range(3)}}
    result = {'data_seed': 1, 'generator_version': 3, 'rows': bench.collect(results),
              'orderings': bench.compare_orderings(results), 'rules': {}, 'runs': []}
    readme = tmp_path / 'README.md'
    readme.write_text(f'intro\n{bench.README_BEGIN}\nstale table\n{bench.README_END}\noutro\n')
    bench.update_readme(result, readme)
    text = readme.read_text()
    assert text.startswith('intro\n') and text.endswith('\noutro\n')
    assert 'stale table' not in text
    assert bench.readme_block(result) in text
    assert '| M+ first > temporal order (TGL) | §4.2: M+ first, then propagate | 3 |' in text
    (tmp_path / 'bare.md').write_text('no block')
    with pytest.raises(ValueError, match='no generated block'):
        bench.update_readme(result, tmp_path / 'bare.md')


def test_the_command_on_a_tiny_setting(bench, tmp_path, capsys):
    """The whole command (train, test, rules, JSON/Markdown) on a tiny dataset, 2 iterations,
    one seed, with a progress line per finished run; no score is asserted."""
    import json

    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=2, num_valid_u=2, num_valid=1, size=64,
                           min_frames=6, max_frames=8, progress=False, log=None)
    out = tmp_path / 'out'
    assert bench.main(['--rows', 'baseline', '--seeds', '0', '--jobs', '1', '--data-root',
                       str(root), '--work-dir', str(tmp_path / 'work'), '--out', str(out),
                       '--cfg-options', 'train_cfg.max_iters=2']) == 0
    assert '1/1 baseline seed 0 done' in capsys.readouterr().out
    result = json.loads((out / 'synthetic_ablation.json').read_text())
    assert {(r['name'], r['grounding'], r['family']) for r in result['rows']} == {
        ('baseline', 'none', f) for f in bench.FAMILIES}
    assert all(r['seeds'] == [0] and len(r['jf']) == 1 for r in result['rows'])
    assert '| baseline | none | 0 |' in (out / 'synthetic_ablation.md').read_text()
    run = bench.run_dir(tmp_path / 'work' / 'data1', 'baseline', 0)
    prov = json.loads((run / 'provenance.json').read_text())
    assert prov['iterations'] == 2 and prov['seed'] == 0 and len(prov['config_sha256']) == 64
    assert prov['data']['generator_version'] == result['generator_version']
    ckpt = run / 'iter_2.pth'
    stamp = ckpt.stat().st_mtime_ns
    args = ['--rows', 'baseline', '--seeds', '0', '--jobs', '1', '--data-root', str(root),
            '--work-dir', str(tmp_path / 'work'), '--out', str(out), '--cfg-options']
    assert bench.main([*args, 'train_cfg.max_iters=2']) == 0
    assert ckpt.stat().st_mtime_ns == stamp                # same provenance: reused
    assert bench.main([*args, 'train_cfg.max_iters=3']) == 0
    assert (run / 'iter_3.pth').is_file() and not ckpt.exists()     # other options: redone
    log = (tmp_path / 'work' / 'data1' / 'run.log').read_text()
    assert 'provenance differs in' in log and 'iterations' in log and 'options' in log


def test_tam_test_trains_a_tam_on_the_checkpoint(bench, tmp_path):
    """The ``tam`` test: tools/train_tam.py on the run's checkpoint (cached features, calibrated
    threshold in the weights), then tools/test.py --grounding tam; its report carries the
    grounding figures. ``hybrid@0.5`` reuses that TAM inside degraded spans. No number is
    asserted."""
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    from tgl_mm.evaluation.report import summarize
    from tgl_mm.utils.checkpoint import load_checkpoint_file
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=3, num_valid_u=2, num_valid=1, size=64,
                           min_frames=6, max_frames=8, progress=False, log=None)
    work = tmp_path / 'work'
    reports = bench.one_seed(0, str(root), work, ['train_cfg.max_iters=2', 'tam_train.iters=3',
                                                  'tam_train.batch_size=2'], bench.TINY,
                             ('tam', 'hybrid@0.5'))
    summary = summarize(reports['tam']['per_expression'])
    assert {'keyframe_top1', 'mr_R1@0.5', 'mr_R1@0.7', 'mr_mAP'} <= set(summary)
    for rec in reports['hybrid@0.5']['per_expression']:    # <= 4 TAM frames inside the span
        assert 1 <= sum(e - s + 1 for s, e in rec['pred_spans']) <= 4
        assert rec.get('frame_scores')
    ckpt = load_checkpoint_file(work / 'iter_2_tam.pth', map_location='cpu')
    assert 'tam.decision_logit' in ckpt['state_dict']
    meta = ckpt['meta']['tam']
    assert meta['seed'] == 0 and 0 < meta['threshold'] < 1
    assert float(ckpt['state_dict']['tam.decision_logit']) == pytest.approx(
        float(torch.logit(torch.tensor(meta['threshold']))), abs=1e-5)
    assert len(list(work.glob('tam_inputs_train_*.pt'))) == 1       # the feature cache
    quality = bench.grounding_quality({'tgl': {0: reports}})
    assert [q['grounding'] for q in quality] == ['tam', 'hybrid@0.5']
    assert quality[0]['keyframe_top1'][0] is not None
    assert '| tgl | tam |' in bench.format_quality(quality)
