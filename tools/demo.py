"""`make demo`: synthetic MeViS-M -> train the tiny TGL model -> test it -> print a J&F table.

Every step is one of the project's own commands, run as a subprocess and echoed, so the demo
shows exactly what a user types. The steps (:data:`STEPS`, run in order; add one by inserting a
:class:`Step` into the list):

1. ``data``: ``tools/data/make_synthetic_mevis_m.py`` (skipped when the data already exists),
2. ``shipped``: the stages the tiny TGL model starts from, as the paper starts from SAM2's
   weights and a RefCOCO pretraining (:data:`SHIPPED_STAGES`; docs/tiny_recipe.md): the tiny
   SAM2 of stage 0 and the referring-image pretraining, each reused from ``checkpoints/`` when
   its SHA-256 matches the config's, else remade with ``tools/train.py`` and its export tool
   (about 25 and 15 minutes on one core),
3. ``train``: ``tools/train.py configs/tgl/tgl_tiny_synthetic.py --seed S`` (CPU, a few minutes;
   ``--seed``, default 0, the config's own seed, also seeds the TAM of step 5),
4. ``test``: ``tools/test.py ... --grounding oracle`` and ``--grounding none`` on synthetic
   ``valid_u``,
5. ``tam``: ``tools/train_tam.py`` trains the model's Temporal Alignment Module on the trained
   checkpoint (TGL frozen; ``configs/tgl/tgl_tiny_synthetic_tam.py``) and ``tools/test.py ...
   --grounding tam`` tests the model grounding itself, the way ``tools/infer.py`` and the app
   run it by default on a video without moments,
6. ``swap``: ``tools/test.py ... --grounding oracle`` with every sentence swapped for that of
   another expression of the same video referring to other objects
   (``test_dataloader.dataset.swap_sentences=True``),

then a table of J&F per expression family (appearance / event / motion / all) for each
grounding, read from each run's ``rvos_report.json``, and the *swap gap*: J&F with the own
sentence minus J&F with the swapped one, on the expressions that have a swap partner.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'configs/tgl/tgl_tiny_synthetic.py'
TAM_CONFIG = 'configs/tgl/tgl_tiny_synthetic_tam.py'
GROUNDINGS = ('oracle', 'none')
SWAP_GROUNDING = 'oracle'
FAMILY_COLUMNS = ('appearance', 'event', 'motion')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@dataclass
class Context:
    """What the steps share: arguments, the Python to run, and what earlier steps produced."""

    args: argparse.Namespace
    python: str
    seconds: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    tam_checkpoint: str | None = None
    model_options: list[str] = field(default_factory=list)   # --cfg-options for every run
    reports: dict[str, tuple[dict, float]] = field(default_factory=dict)   # run -> (report, s)

    @property
    def work(self) -> Path:
        return Path(self.args.work_dir)

    def data_options(self, loaders: Sequence[str] = LOADERS) -> list[str]:
        """``--cfg-options`` pointing these dataloaders at the demo's data."""
        return [f'{loader}.dataset.data_root={self.args.data_root}' for loader in loaders]


@dataclass
class Step:
    """One stage of the demo: ``run(ctx)`` does the work and records into ``ctx``."""

    name: str
    run: Callable[[Context], None]


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


# ------------------------------------------------------------------------------ steps
def step_data(ctx: Context) -> None:
    ctx.seconds['data'] = run([ctx.python, 'tools/data/make_synthetic_mevis_m.py', '--out-dir',
                               ctx.args.data_root, '--skip-existing'])


@dataclass(frozen=True)
class ShippedStage:
    """A training stage whose result ships in ``checkpoints/`` (too slow for the demo budget):
    reused when its SHA-256 matches the tiny config's, else remade by ``config`` + ``export``.

    ``checkpoint``/``sha256`` name the tiny config's variables holding its path and hash;
    ``sha_options`` are the ``--cfg-options`` keys that carry a remade file's hash to later runs.
    """

    name: str
    config: str
    export: str
    checkpoint: str
    sha256: str
    sha_options: tuple[str, ...]
    minutes: int
    loaders: tuple[str, ...] = LOADERS


SHIPPED_STAGES = (
    ShippedStage('stage0', 'configs/tgl/stage0_tiny_sam2_synthetic.py', 'tools/export_sam2.py',
                 'stage0_checkpoint', 'stage0_sha256',
                 ('model.image_backbone.checkpoint_sha256', 'model.head.checkpoint_sha256'), 25,
                 loaders=('val_dataloader', 'test_dataloader')),   # trains on in-memory clips
    ShippedStage('image_pretrain', 'configs/tgl/tgl_tiny_synthetic_image_pretrain.py',
                 'tools/export_parts.py', 'image_pretrain_checkpoint', 'image_pretrain_sha256',
                 ('model.pretrained.checkpoint_sha256',), 15),
)


def shipped_stage(ctx: Context, stage: ShippedStage) -> None:
    """Reuse or remake one shipped stage (a stage after a remade one is always remade: it was
    trained on the old file)."""
    from mmengine.config import Config

    from tgl_mm.models.utils.sam2_checkpoint import file_sha256
    cfg = Config.fromfile(REPO / CONFIG)
    rel, want = cfg[stage.checkpoint], cfg[stage.sha256]
    path = REPO / rel
    if not ctx.model_options and path.is_file() and file_sha256(path) == want:
        print(f'\n[demo] {stage.name}: reusing {rel} (SHA-256 {want[:12]}... matches the '
              'config)', flush=True)
        return
    why = 'an earlier stage was remade' if ctx.model_options else \
        "it is missing or differs from the config's SHA-256"
    print(f'\n[demo] {stage.name}: remaking {rel} ({why}; about {stage.minutes} minutes on '
          'one core)', flush=True)
    work = ctx.work / stage.name
    ctx.seconds[stage.name] = run([ctx.python, 'tools/train.py', stage.config, '--work-dir',
                                   str(work), '--cfg-options', *ctx.data_options(stage.loaders),
                                   *ctx.model_options])
    last = (REPO / work / 'last_checkpoint').read_text().strip()
    ctx.seconds[stage.name] += run([ctx.python, stage.export, last, str(path)])
    got = file_sha256(path)
    if got != want:   # another machine or torch build: go on with the new file, say so
        print(f'[demo] the remade {rel} has SHA-256 {got} (the config expects {want}); the '
              f'demo uses it, set {stage.sha256} in {CONFIG} to keep it', flush=True)
        ctx.model_options += [f'{key}={got}' for key in stage.sha_options]


def step_shipped(ctx: Context) -> None:
    for stage in SHIPPED_STAGES:
        shipped_stage(ctx, stage)


def step_train(ctx: Context) -> None:
    # no validation inside training: the test step evaluates the same checkpoint right after
    ctx.seconds['train'] = run([ctx.python, 'tools/train.py', CONFIG, '--seed',
                                str(ctx.args.seed), '--work-dir', str(ctx.work),
                                '--cfg-options', *ctx.data_options(),
                                'train_cfg.val_interval=1000000000', *ctx.model_options,
                                *ctx.args.cfg_options])
    ctx.checkpoint = (REPO / ctx.work / 'last_checkpoint').read_text().strip()


def _test(ctx: Context, name: str, grounding: str, extra: Sequence[str] = (),
          config: str = CONFIG, checkpoint: str | None = None) -> None:
    checkpoint = checkpoint or ctx.checkpoint
    if checkpoint is None:
        sys.exit('[demo] no checkpoint to test: the train step did not run')
    test_dir = ctx.work / f'test_{name}'
    seconds = run([ctx.python, 'tools/test.py', config, checkpoint, '--work-dir',
                   str(test_dir), '--grounding', grounding, '--cfg-options', *ctx.data_options(),
                   *ctx.model_options, *extra])
    ctx.reports[name] = (latest_report(REPO / test_dir), seconds)


def step_test(ctx: Context) -> None:
    for grounding in GROUNDINGS:
        _test(ctx, grounding, grounding)


def tam_checkpoint_path(checkpoint: str) -> str:
    """Where the demo writes the checkpoint with the trained TAM: ``<stem>_tam.pth`` beside
    ``checkpoint`` (``tools/train_tam.py``'s default)."""
    path = Path(checkpoint)
    return str(path.with_name(f'{path.stem}_tam.pth'))


def step_tam(ctx: Context) -> None:
    """Train the TAM on the trained checkpoint, then test the model grounding itself."""
    if ctx.checkpoint is None:
        sys.exit('[demo] no checkpoint to train the TAM on: the train step did not run')
    out = tam_checkpoint_path(ctx.checkpoint)
    ctx.seconds['tam'] = run([ctx.python, 'tools/train_tam.py', TAM_CONFIG, ctx.checkpoint,
                              '--out', out, '--seed', str(ctx.args.seed), '--cfg-options',
                              *ctx.data_options(('test_dataloader',)), *ctx.model_options])
    ctx.tam_checkpoint = out
    _test(ctx, 'tam', 'tam', config=TAM_CONFIG, checkpoint=out)


def step_swap(ctx: Context) -> None:
    _test(ctx, f'{SWAP_GROUNDING}_swapped', SWAP_GROUNDING,
          ['test_dataloader.dataset.swap_sentences=True'])


STEPS: list[Step] = [Step('data', step_data), Step('shipped', step_shipped),
                     Step('train', step_train), Step('test', step_test), Step('tam', step_tam),
                     Step('swap', step_swap)]


# ------------------------------------------------------------------------------ table
def family_jf(report: dict, keys: set[tuple[str, str]] | None = None) -> dict[str, float | None]:
    """Mean J&F of a report's expressions per family and ``all`` (only ``keys`` if given;
    ``None`` where a family has no expression)."""
    from tgl_mm.evaluation.families import report_family_means
    means = report_family_means(report, (*FAMILY_COLUMNS, 'all'), keys)
    return {fam: m['jf'] for fam, m in means.items()}


def swap_gap(own: dict, swapped: dict) -> dict[str, float | None]:
    """J&F with the own sentence minus with the swapped one, per family, on the expressions
    the swapped run kept."""
    from tgl_mm.evaluation.report import expression_key
    keys = {expression_key(r) for r in swapped['per_expression']}
    a, b = family_jf(own, keys), family_jf(swapped)
    return {k: None if a[k] is None or b[k] is None else a[k] - b[k] for k in a}


def _row(label: str, values: dict[str, float | None], tail: str = '') -> str:
    cells = ''.join(f' {"-":>10}' if values[k] is None else f' {round(values[k], 1) + 0.0:10.1f}'
                    for k in (*FAMILY_COLUMNS, 'all'))   # + 0.0: no "-0.0"
    return f'{label:<16}{cells}{tail}'


def format_table(reports: dict[str, tuple[dict, float]]) -> str:
    """The demo's J&F table: one row per grounding, then the swapped run and the swap gap."""
    lines = [f'{"J&F":<16}' + ''.join(f' {c:>10}' for c in (*FAMILY_COLUMNS, 'all'))
             + f' {"M+ cov":>7} {"test s":>7}']
    for name, (report, seconds) in reports.items():
        lines.append(_row(name, family_jf(report),
                          f' {report.get("pred_mplus_coverage", 0.0):6.1f}% {seconds:7.0f}'))
    swapped = f'{SWAP_GROUNDING}_swapped'
    if swapped in reports and SWAP_GROUNDING in reports:
        report = reports[swapped][0]
        lines.append(_row('swap gap', swap_gap(reports[SWAP_GROUNDING][0], report)))
        counts = report.get('sentence_swap')
        if counts:
            lines.append(f'(swap: {counts["swapped"]} expressions with a partner; '
                         f'{counts["dropped"]} without one are left out of the swapped run and '
                         'of the gap)')
    return '\n'.join(lines)


def try_it(tam_checkpoint: str) -> str:
    """How to run the demo model (grounding itself with its TAM) on a video of one's own."""
    return (f'[demo] the model with its TAM: {tam_checkpoint}; on your own video (it grounds '
            f'itself, no moments needed):\n'
            f'  python tools/infer.py {TAM_CONFIG} {tam_checkpoint} VIDEO.mp4 --text "..." '
            f'--out out/\n'
            f'  python tools/app.py {TAM_CONFIG} {tam_checkpoint}   # docs/app.md')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic_mevis_m')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of TGL (tools/train.py --seed) and of its TAM '
                             '(tools/train_tam.py --seed); 0, the default, is both configs\' '
                             'own seed')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to tools/train.py (e.g. train_cfg.max_iters=100)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    ctx = Context(parse_args(argv), sys.executable)
    for step in STEPS:
        step.run(ctx)
    first = next(iter(ctx.reports.values()))[0]
    print(f'\n[demo] tiny TGL on synthetic MeViS-M valid_u ({first["num_expressions"]} '
          'expressions)')
    print(format_table(ctx.reports))
    print(f'[demo] data {ctx.seconds.get("data", 0):.0f} s, training '
          f'{ctx.seconds.get("train", 0):.0f} s, TAM {ctx.seconds.get("tam", 0):.0f} s; '
          f'checkpoint {ctx.checkpoint}')
    if ctx.tam_checkpoint:
        print(try_it(ctx.tam_checkpoint))


if __name__ == '__main__':
    main()
