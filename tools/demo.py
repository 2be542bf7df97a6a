"""`make demo`: synthetic MeViS-M -> train the tiny TGL model -> test it -> print a J&F table.

Every step is one of the project's own commands, run as a subprocess and echoed, so the demo
shows exactly what a user types:

1. ``tools/data/make_synthetic_mevis_m.py`` (skipped when the data already exists),
2. ``tools/train.py configs/tgl/tgl_tiny_synthetic.py`` (CPU, a few minutes),
3. ``tools/test.py ... --grounding oracle`` and ``--grounding none`` on synthetic ``valid_u``,
   then the J, F, J&F of both (from each run's ``rvos_report.json``).
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'configs/tgl/tgl_tiny_synthetic.py'
GROUNDINGS = ('oracle', 'none')


def run(cmd: list[str]) -> float:
    """Run a command from the repository root, echoing it; return its wall time in seconds."""
    print(f'\n[demo] $ {shlex.join(cmd)}', flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO)
    if result.returncode:
        sys.exit(f'[demo] step failed (exit code {result.returncode}): {shlex.join(cmd)}')
    return time.perf_counter() - start


def latest_report(work_dir: Path) -> dict:
    """The ``rvos_report.json`` the RVOSMetric wrote in the newest run folder of ``work_dir``."""
    reports = sorted(work_dir.glob('*/rvos_report.json'))
    if not reports:
        sys.exit(f'[demo] no rvos_report.json under {work_dir}: did the test run evaluate?')
    return json.loads(reports[-1].read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic_mevis_m')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to tools/train.py (e.g. train_cfg.max_iters=100)')
    args = parser.parse_args(argv)
    py = sys.executable
    data = ['train_dataloader.dataset.data_root=' + args.data_root,
            'val_dataloader.dataset.data_root=' + args.data_root,
            'test_dataloader.dataset.data_root=' + args.data_root]
    work = Path(args.work_dir)

    t_data = run([py, 'tools/data/make_synthetic_mevis_m.py', '--out-dir', args.data_root,
                  '--skip-existing'])
    t_train = run([py, 'tools/train.py', CONFIG, '--work-dir', str(work),
                   '--cfg-options', *data, *args.cfg_options])
    checkpoint = (REPO / work / 'last_checkpoint').read_text().strip()
    rows = []
    for grounding in GROUNDINGS:
        test_dir = work / f'test_{grounding}'
        t_test = run([py, 'tools/test.py', CONFIG, checkpoint, '--work-dir', str(test_dir),
                      '--grounding', grounding, '--cfg-options', *data])
        report = latest_report(REPO / test_dir)
        rows.append((grounding, report, t_test))

    print('\n[demo] tiny TGL on synthetic MeViS-M valid_u '
          f'({rows[0][1]["num_expressions"]} expressions)')
    print(f'{"grounding":<10} {"J":>6} {"F":>6} {"J&F":>6} {"M+ coverage":>12} {"test s":>7}')
    for grounding, report, seconds in rows:
        print(f'{grounding:<10} {report["J"]:6.1f} {report["F"]:6.1f} {report["J&F"]:6.1f} '
              f'{report["pred_mplus_coverage"]:11.1f}% {seconds:7.0f}')
    print(f'[demo] data {t_data:.0f} s, training {t_train:.0f} s; checkpoint {checkpoint}')


if __name__ == '__main__':
    main()
