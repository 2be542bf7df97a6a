"""The paper's ablations (Tables 2-3) and the tiny recipe's figures on synthetic MeViS-M, over
several training seeds: per-family J&F, the sentence-swap gap and the rule baselines.

    python benchmarks/synthetic_ablation.py [--rows NAME ...] [--seeds 0 1 2] [--jobs 2] \
        [--data-seed 1] [--out benchmarks/results] [--cfg-options KEY=VALUE ...]

Generates the data (``data/synthetic_mevis_m_seed<N>``) when missing, then for every row and
training seed runs the project's own commands, as ``make demo`` does: ``tools/train.py CONFIG
--seed S`` on the data seed's train split, ``tools/test.py`` on its ``valid_u`` once per test of
the row (a grounding, or ``oracle_swapped``: every sentence swapped for another expression's of
the same video). Runs go in parallel single-threaded processes (``--jobs``); finished runs are
not redone, and the outputs hold every finished run under ``--work-dir`` (so ``--rows`` and
``--seeds`` add to earlier invocations; delete it to start over). Writes
``OUT/synthetic_ablation.json``
(``{"rows": [{"name", "family", "grounding", "seeds", "jf", "j", "f"}]}``, one row per
(config, family, test), family ``all`` for the whole split, plus ``swap_gap`` rows, and
``grounding_quality``: M+ IoU, R1@0.5, R1@0.7, mAP and top-1 of each grounding), a Markdown
table (mean ± std) and, with matplotlib, a PNG, atomically. The shipped stages (stage 0, image
pretraining, ``docs/tiny_recipe.md``) were made on data seed 0, so data seed 1 is unseen by every
stage.

Rows (:data:`ROWS`; the configs change only what the row names, see
``configs/tgl/ablations/tiny/``): Table 2 ``baseline`` (tested with every frame as M+),
``sampling``, ``sampling+mdp``, ``sampling+oss``, ``tgl`` (the tiny recipe; oracle, none,
swapped, and moment retrieval from oracle moments degraded to window IoU 0.9/0.7/0.5/0.3,
``mr@<iou>``, plotted in ``OUT/synthetic_ablation_grounding.png``; ``tam``: the checkpoint's
Temporal Alignment Module trained by ``tools/train_tam.py`` with the run's seed; ``hybrid@<iou>``:
the TAM's top-4 frames inside those spans, the paper's Hybrid with the TAM as keyframe scorer);
Table 3
``mfe+memall``
and ``nomfe+memplus`` (``sampling+oss`` is no-MFE + memory from
all frames, ``tgl`` MFE + memory from M+).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TINY = 'configs/tgl/tgl_tiny_synthetic.py'
TINY_TAM = 'configs/tgl/tgl_tiny_synthetic_tam.py'
TINY_HYBRID = 'configs/tgl/tgl_tiny_synthetic_tam_hybrid.py'
ABL = 'configs/tgl/ablations/tiny'
FAMILIES = ('appearance', 'event', 'motion', 'all')


@dataclass(frozen=True)
class Row:
    """An ablation row: the config to train and the tests to run on its checkpoints."""

    config: str
    tests: tuple[str, ...] = ('oracle',)


ROWS: dict[str, Row] = {
    'baseline': Row(f'{ABL}/t2_baseline.py', ('none',)),
    'sampling': Row(f'{ABL}/t2_sampling.py'),
    'sampling+mdp': Row(f'{ABL}/t2_sampling_mdp.py'),
    'sampling+oss': Row(f'{ABL}/t2_sampling_oss.py'),
    'tgl': Row(TINY, ('oracle', 'none', 'oracle_swapped', 'mr@0.9', 'mr@0.7', 'mr@0.5',
                      'mr@0.3', 'tam', 'hybrid@0.9', 'hybrid@0.7', 'hybrid@0.5',
                      'hybrid@0.3')),
    'mfe+memall': Row(f'{ABL}/t3_mfe_memall.py'),
    'nomfe+memplus': Row(f'{ABL}/t3_nomfe_memplus.py'),
}


def _demo():
    """tools/demo.py as a module (its report helpers: latest_report, family_jf, swap_gap)."""
    spec = importlib.util.spec_from_file_location('tgl_demo', REPO / 'tools' / 'demo.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(cmd: list[str], log: Path) -> None:
    """Run a command single-threaded from the repository root, appending to ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    with open(log, 'a') as f:
        f.write(f'$ {" ".join(cmd)}\n')
        f.flush()
        code = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT,
                              env=env).returncode
    if code:
        raise RuntimeError(f'exit {code}: {" ".join(cmd)} (log: {log})')


def degraded_moments(iou: str, data_root: str, grounding_dir: Path) -> Path:
    """The moment-retrieval prediction file of the oracle moments degraded to window IoU
    ``iou``, written once by ``tools/analysis/degrade_moments.py``."""
    pred = grounding_dir / f'mr_iou{iou}.jsonl'
    if not pred.is_file():
        grounding_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, 'tools/analysis/degrade_moments.py', '--data-root',
                        data_root, '--split', 'valid_u', '--iou', iou, '--out', str(pred)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return pred


def test_args(test: str, data_root: str, grounding_dir: Path) -> tuple[list[str], list[str]]:
    """``tools/test.py`` arguments of a test: ``<grounding>``, ``<grounding>_swapped`` (every
    sentence swapped), ``mr@<iou>`` (moment retrieval from the oracle moments degraded to that
    window IoU, :func:`degraded_moments`) or ``hybrid@<iou>`` (the TAM's top-4 frames inside
    those spans; run with :data:`TINY_HYBRID`): (arguments, extra ``--cfg-options``)."""
    if test.startswith('mr@'):
        pred = degraded_moments(test[3:], data_root, grounding_dir)
        return ['--grounding', 'moment_retrieval', '--grounding-options', f'pred_file={pred}'], []
    if test.startswith('hybrid@'):
        pred = degraded_moments(test[7:], data_root, grounding_dir)
        return [], [f'model.test_cfg.grounding.span.pred_file={pred}']
    swap = ['test_dataloader.dataset.swap_sentences=True'] if test.endswith('_swapped') else []
    return ['--grounding', test.removesuffix('_swapped')], swap


def run_dir(work: Path, name: str, seed: int) -> Path:
    """Where a row's run with ``seed`` lives under the data seed's work directory."""
    return work / name.replace('+', '_') / f'seed{seed}'


def finished_runs(work: Path) -> list[tuple[str, int]]:
    """``(row, seed)`` runs under ``work`` whose training and every test finished (the JSON
    then holds every run made so far, whichever invocation made it)."""
    done = []
    for name, row in ROWS.items():
        for path in sorted(work.glob(f'{name.replace("+", "_")}/seed*')):
            seed = path.name.removeprefix('seed')
            if seed.isdigit() and (path / 'last_checkpoint').is_file() and all(
                    list((path / f'test_{t}').glob('*/rvos_report.json')) for t in row.tests):
                done.append((name, int(seed)))
    return done


def one_seed(seed: int, data_root: str, work: Path, extra: list[str], config: str = TINY,
             tests: tuple[str, ...] = ROWS['tgl'].tests) -> dict:
    """Train ``config`` with ``seed`` and run each test (:func:`test_args`); return
    ``{test: rvos_report}``. Finished steps are not redone."""
    demo = _demo()
    work.mkdir(parents=True, exist_ok=True)
    log = work / 'run.log'
    data = [f'{loader}.dataset.data_root={data_root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    # tam_train.* options go to tools/train_tam.py (the TAM config's), the others to training
    tam_extra = [o for o in extra if o.startswith('tam_train.')]
    extra = [o for o in extra if o not in tam_extra]
    if not (work / 'last_checkpoint').is_file():
        run([sys.executable, 'tools/train.py', config, '--seed', str(seed), '--work-dir',
             str(work), '--cfg-options', *data, 'train_cfg.val_interval=100000', *extra], log)
    ckpt = (work / 'last_checkpoint').read_text().strip()
    reports = {}
    for test in tests:
        test_dir = work / f'test_{test}'
        if not list(test_dir.glob('*/rvos_report.json')):
            args, cfg = test_args(test, data_root, work.parent.parent / 'grounding')
            test_config, test_ckpt = config, ckpt
            if test == 'tam' or test.startswith('hybrid@'):
                # the TAM trained on this checkpoint (tools/train_tam.py)
                test_config = TINY_TAM if test == 'tam' else TINY_HYBRID
                test_ckpt = str(Path(ckpt).with_suffix('')) + '_tam.pth'
                if not Path(test_ckpt).is_file():
                    run([sys.executable, 'tools/train_tam.py', TINY_TAM, ckpt, '--out',
                         test_ckpt, '--seed', str(seed), '--cfg-options', *data, *tam_extra],
                        log)
            run([sys.executable, 'tools/test.py', test_config, test_ckpt, '--work-dir',
                 str(test_dir), *args, '--cfg-options', *data, *cfg], log)
        reports[test] = demo.latest_report(test_dir)
    return reports


def family_scores(report: dict, keys: set | None = None) -> dict[str, dict[str, float | None]]:
    """``{family: {"jf", "j", "f"}}`` over :data:`FAMILIES` (``keys`` only, if given)."""
    from tgl_mm.evaluation.families import report_family_means
    return report_family_means(report, FAMILIES, keys)


def collect(results: dict[str, dict[int, dict]]) -> list[dict]:
    """JSON rows from ``{row: {seed: {test: report}}}``: one per (row, family, test), plus the
    swap gap (own minus swapped sentence, on the expressions with a swap partner)."""
    from tgl_mm.evaluation.report import expression_key
    out = []
    for name, per_seed in results.items():
        seeds = sorted(per_seed)
        tests = [t for t in per_seed[seeds[0]] if all(t in per_seed[s] for s in seeds)]
        scores = {t: {s: family_scores(per_seed[s][t]) for s in seeds} for t in tests}
        for test in tests:
            for fam in FAMILIES:
                out.append({'name': name, 'family': fam, 'grounding': test, 'seeds': seeds,
                            **{k: [scores[test][s][fam][k] for s in seeds]
                               for k in ('jf', 'j', 'f')}})
        for test in tests:
            if not test.endswith('_swapped') or test.removesuffix('_swapped') not in tests:
                continue
            own = test.removesuffix('_swapped')
            gaps = {}
            for s in seeds:
                swapped = per_seed[s][test]
                keys = {expression_key(r) for r in swapped['per_expression']}
                a, b = family_scores(per_seed[s][own], keys), family_scores(swapped)
                gaps[s] = {f: {k: None if a[f][k] is None or b[f][k] is None
                               else a[f][k] - b[f][k] for k in ('jf', 'j', 'f')}
                           for f in FAMILIES}
            for fam in FAMILIES:
                out.append({'name': name, 'family': fam, 'grounding': f'{own}: swap gap',
                            'seeds': seeds, **{k: [gaps[s][fam][k] for s in seeds]
                                               for k in ('jf', 'j', 'f')}})
    return out


#: grounding figures of :func:`grounding_quality` (``tgl_mm.evaluation.report.summarize`` keys)
QUALITY = {'mplus_frame_iou': 'M+ IoU', 'mr_R1@0.5': 'R1@0.5', 'mr_R1@0.7': 'R1@0.7',
           'mr_mAP': 'mAP', 'keyframe_top1': 'top-1'}


def grounding_quality(results: dict[str, dict[int, dict]]) -> list[dict]:
    """Per (row, test) of the rows tested with several groundings (``tgl``), but the swapped
    tests: its grounding figures against the annotated moments on the whole split, per seed
    (:data:`QUALITY`; ``top-1`` only for tests with frame scores, i.e. the TAM's; ``none``, the
    whole video as M+, is the trivial reference)."""
    from tgl_mm.evaluation.report import summarize
    out = []
    for name, per_seed in results.items():
        seeds = sorted(per_seed)
        tests = [t for t in per_seed[seeds[0]] if all(t in per_seed[s] for s in seeds)
                 and not t.endswith('_swapped')]
        if len(tests) < 2:
            continue
        for test in tests:
            sums = [summarize(per_seed[s][test]['per_expression']) for s in seeds]
            out.append({'name': name, 'grounding': test, 'seeds': seeds,
                        **{k: [m.get(k) for m in sums] for k in QUALITY}})
    return out


def format_quality(quality: list[dict]) -> str:
    lines = ['Grounding quality against the annotated moments (percent; M+ IoU: frame-level; '
             'R1/mAP: QVHighlights protocol on the M+ spans; top-1: the best-scored frame lies '
             'in M+), mean ± std over training seeds:', '',
             '| row | test | ' + ' | '.join(QUALITY.values()) + ' |',
             '|---|---|' + '---|' * len(QUALITY)]
    for q in quality:
        lines.append(f'| {q["name"]} | {q["grounding"]} | '
                     + ' | '.join(mean_std(q[k]) for k in QUALITY) + ' |')
    return '\n'.join(lines)


def mean_std(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return '-'
    return f'{np.mean(vals):.1f} ± {np.std(vals):.1f}'


def format_markdown(rows: list[dict], rules: dict, data_seed: int) -> str:
    lines = [f'J&F on synthetic MeViS-M `valid_u` (data seed {data_seed}), mean ± std over '
             'training seeds:', '',
             '| row | test | seeds | ' + ' | '.join(FAMILIES) + ' |',
             '|---|---|---|' + '---|' * len(FAMILIES)]
    table: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        table.setdefault((r['name'], r['grounding']), {})[r['family']] = r
    for (name, test), fams in table.items():
        seeds = fams['all']['seeds']
        lines.append(f'| {name} | {test} | {",".join(map(str, seeds))} | ' + ' | '.join(
            mean_std(fams[f]['jf']) for f in FAMILIES) + ' |')
    for name, scores in rules.items():
        lines.append(f'| rule `{name}` (given GT masks) | - | - | ' + ' | '.join(
            '-' if scores.get(f) is None else f'{scores[f]:.1f}' for f in FAMILIES) + ' |')
    return '\n'.join(lines)


def _pyplot():
    """matplotlib's pyplot on the Agg backend, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig, path: Path) -> None:
    from tgl_mm.utils.fileio import atomic_path
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=120)
    fig.clf()


def plot(rows: list[dict], path: Path) -> bool:
    """Bar chart of mean ± std J&F per row/test and family; False without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return False
    groups = list(dict.fromkeys((r['name'], r['grounding']) for r in rows))
    fig, ax = plt.subplots(figsize=(min(12.0, max(6.0, 0.8 * len(groups))), 4))
    width = 0.8 / len(FAMILIES)
    for i, fam in enumerate(FAMILIES):
        means, stds = [], []
        for g in groups:
            vals = [v for r in rows if (r['name'], r['grounding']) == g and r['family'] == fam
                    for v in r['jf'] if v is not None]
            means.append(np.mean(vals) if vals else 0.0)
            stds.append(np.std(vals) if vals else 0.0)
        ax.bar(np.arange(len(groups)) + i * width, means, width, yerr=stds, label=fam,
               capsize=2)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels([f'{n}: {t}' for n, t in groups], fontsize=7, rotation=35, ha='right')
    ax.set_ylabel('J&F')
    ax.legend(fontsize=7, ncol=len(FAMILIES), loc='lower left', bbox_to_anchor=(0.0, 1.0))
    _save(fig, path)
    plt.close(fig)
    return True


def plot_grounding(rows: list[dict], path: Path, name: str = 'tgl',
                   quality: list[dict] = ()) -> bool:
    """J&F against the window IoU of degraded moment retrieval (``mr@<iou>`` tests of row
    ``name``), per family, with ``oracle`` and ``none`` as horizontal lines, the ``tam`` test
    (cross) and the ``hybrid@`` tests (triangles) at their mean M+ frame IoU (from
    ``quality``); False without matplotlib or without such tests."""
    points = sorted({float(r['grounding'][3:]) for r in rows
                     if r['name'] == name and r['grounding'].startswith('mr@')})
    plt = _pyplot()
    if not points or plt is None:
        return False

    def mean_jf(test: str, fam: str) -> float | None:
        vals = [v for r in rows if r['name'] == name and r['grounding'] == test
                and r['family'] == fam for v in r['jf'] if v is not None]
        return float(np.mean(vals)) if vals else None

    from matplotlib.lines import Line2D
    fig, ax = plt.subplots(figsize=(9, 4))
    own = {q['grounding']: q for q in quality if q['name'] == name}
    hybrids = sorted(t for t in own if t.startswith('hybrid@'))

    def at_iou(test: str, fam: str) -> tuple[float, float] | None:
        """(mean M+ frame IoU, mean J&F) of a test, or None."""
        ious = [v for v in own[test]['mplus_frame_iou'] if v is not None]
        y = mean_jf(test, fam)
        return None if y is None or not ious else (float(np.mean(ious)) / 100, y)

    for i, fam in enumerate(FAMILIES):
        color = f'C{i}'
        ax.plot(points, [mean_jf(f'mr@{x:g}', fam) for x in points], 'o-', color=color)
        for test, style in (('oracle', '--'), ('none', ':')):
            y = mean_jf(test, fam)
            if y is not None:
                ax.axhline(y, color=color, linestyle=style, linewidth=1)
        tam = at_iou('tam', fam) if 'tam' in own else None
        if tam:
            ax.plot([tam[0]], [tam[1]], 'x', color=color, markersize=8)
        pts = sorted(p for p in (at_iou(t, fam) for t in hybrids) if p)
        if pts:
            ax.plot(*zip(*pts), '^-.', color=color, markersize=7, linewidth=1)
    handles = [Line2D([], [], color=f'C{i}', label=fam) for i, fam in enumerate(FAMILIES)]
    handles += [Line2D([], [], color='k', marker='o', label='moment retrieval (degraded oracle)'),
                Line2D([], [], color='k', linestyle='--', label='oracle'),
                Line2D([], [], color='k', linestyle=':', label='none (whole video)')]
    if 'tam' in own:
        handles.append(Line2D([], [], color='k', marker='x', linestyle='',
                              label='TAM (at its M+ frame IoU)'))
    if hybrids:
        handles.append(Line2D([], [], color='k', marker='^', linestyle='-.',
                              label='hybrid: TAM top-4 in the spans (at its M+ frame IoU)'))
    ax.set_xlabel('IoU with the oracle moments (window IoU; TAM, hybrid: M+ frame IoU)')
    ax.set_ylabel('J&F')
    ax.set_title(f'{name}: J&F against grounding quality', fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rows', nargs='+', choices=list(ROWS), default=list(ROWS))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--jobs', type=int, default=2)
    p.add_argument('--data-seed', type=int, default=1)
    p.add_argument('--data-root', default=None,
                   help='the generated data (default: data/synthetic_mevis_m_seed<data-seed>; '
                   'generated there with the data seed when missing)')
    p.add_argument('--out', default='benchmarks/results')
    p.add_argument('--work-dir', default='work_dirs/synthetic_ablation')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='passed to tools/train.py (e.g. train_cfg.max_iters=20); tam_train.* '
                   'to tools/train_tam.py (e.g. tam_train.iters=500)')
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tgl_mm.datasets.synthetic.rules import score_rules
    from tgl_mm.utils.fileio import atomic_dump_json, atomic_path

    data_root = args.data_root or f'data/synthetic_mevis_m_seed{args.data_seed}'
    start = time.perf_counter()
    subprocess.run([sys.executable, 'tools/data/make_synthetic_mevis_m.py', '--out-dir',
                    data_root, '--seed', str(args.data_seed), '--skip-existing', '--no-progress'],
                   cwd=REPO, check=True)
    work = REPO / args.work_dir / f'data{args.data_seed}'
    runs = [(name, s) for name in args.rows for s in args.seeds]
    runs += [r for r in finished_runs(work) if r not in runs]   # earlier invocations' runs
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(name, s): pool.submit(one_seed, s, data_root, run_dir(work, name, s),
                                          args.cfg_options, ROWS[name].config, ROWS[name].tests)
                   for name, s in runs}
        results: dict[str, dict[int, dict]] = {}
        for (name, s), future in futures.items():
            results.setdefault(name, {})[s] = future.result()
    ordered = {name: results[name] for name in ROWS if name in results}
    rows = collect(ordered)
    quality = grounding_quality(ordered)
    rules = {name: {fam: v['J&F'] for fam, v in {**res['per_family'],
                                                 'all': res['overall']}.items()}
             for name, res in score_rules(REPO / data_root, 'valid_u',
                                          ('all_objects', 'named_look', 'best')).items()}
    minutes = (time.perf_counter() - start) / 60
    out = REPO / args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = out / 'synthetic_ablation'
    atomic_dump_json({'data_seed': args.data_seed, 'cfg_options': args.cfg_options,
                      'minutes': round(minutes, 1), 'jobs': args.jobs, 'rows': rows,
                      'grounding_quality': quality, 'rules': rules}, f'{stem}.json')
    table = format_markdown(rows, rules, args.data_seed) + '\n\n' + format_quality(quality)
    command = (f'python benchmarks/synthetic_ablation.py --rows {" ".join(args.rows)} '
               f'--seeds {" ".join(map(str, args.seeds))} --data-seed {args.data_seed}')
    with atomic_path(f'{stem}.md') as tmp:
        Path(tmp).write_text(f'{table}\n\n(`{command}`; this invocation took {minutes:.0f} '
                             f'minutes with --jobs {args.jobs}; runs finished by earlier '
                             'invocations are reused and not counted)\n')
    drawn = plot(rows, Path(f'{stem}.png'))
    plot_grounding(rows, Path(f'{stem}_grounding.png'), quality=quality)
    print(table)
    print(f'written {stem}.json, .md{", .png" if drawn else " (no matplotlib: no plot)"} '
          f'({minutes:.0f} min)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
