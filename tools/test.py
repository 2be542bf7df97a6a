"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Distributed: ``bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [options]``.
"""
import argparse
import sys

from tgl_mm.engine import (
    apply_test_args,
    build_runner,
    check_grounding_files,
    launch_session,
    load_config,
    set_format_only_without_masks,
)
from tgl_mm.utils import install_checkpoint_safety
from tgl_mm.utils.cli import KeyValueAction, add_debug_flag, grounding_help, run_tool
from tgl_mm.utils.dist import LAUNCHERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a tgl_mm checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for logs and metrics '
                        '(default: work_dir in the config, else work_dirs/<config stem>)')
    parser.add_argument('--out', metavar='DIR',
                        help='write predicted masks in the MeViS submission layout '
                        '(DIR/<video>/<exp_id>/<frame>.png) through the RVOSMetric; required '
                        'for a split without masks (MeViS valid), which is then not scored')
    parser.add_argument('--show-dir', metavar='DIR',
                        help='draw predictions into DIR (RVOSVisualizationHook)')
    parser.add_argument(
        '--grounding', metavar='NAME',
        help=grounding_help('how M+ is chosen at inference, a registered grounding:',
                            "Default: the config's model.test_cfg.grounding"))
    parser.add_argument(
        '--grounding-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
        help='arguments of the grounding, e.g. pred_file=chrono.jsonl top_k=4')
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint that does not fit the model (only the matching weights, with a '
        'warning) instead of refusing it; see docs/checkpoints.md')
    parser.add_argument(
        '--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
        help='override config entries, e.g. test_dataloader.batch_size=1')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (set by dist_test.sh / slurm_test.sh)')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    install_checkpoint_safety()  # CHECKPOINT loads weights-only
    cfg = load_config(args.config, args.cfg_options)
    apply_test_args(cfg, args.checkpoint, work_dir=args.work_dir, out=args.out,
                    show_dir=args.show_dir, launcher=args.launcher, grounding=args.grounding,
                    grounding_options=args.grounding_options, non_strict=args.non_strict)
    set_format_only_without_masks(cfg, args.out)
    check_grounding_files(cfg)
    with launch_session(cfg):
        runner = build_runner(cfg)
        return runner.test()


if __name__ == '__main__':
    sys.exit(run_tool(main))
