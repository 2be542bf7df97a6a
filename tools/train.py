"""Train a model from a config: ``python tools/train.py CONFIG [options]``.

Distributed: ``bash tools/dist_train.sh CONFIG GPUS [options]`` (CPU: gloo, GPU: nccl).
"""
import argparse
import sys

from tgl_mm.engine import apply_train_args, build_runner, launch_session, load_config
from tgl_mm.utils import install_checkpoint_safety
from tgl_mm.utils.cli import KeyValueAction, add_debug_flag, run_tool
from tgl_mm.utils.dist import LAUNCHERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a tgl_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints '
                        '(default: work_dir in the config, else work_dirs/<config stem>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto', metavar='PATH',
        help='resume from the checkpoint PATH; without PATH, from the latest checkpoint in the '
        'work dir (work_dir/last_checkpoint)')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 AmpOptimWrapper on CUDA, bf16 autocast on CPU')
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed (default: the config\'s randomness.seed, 0 in '
                        'default_runtime.py); logged under "Runtime environment"')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (torch.use_deterministic_algorithms; '
                        'slower on GPUs)')
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint that does not fit the model (only the matching weights, with a '
        'warning) instead of refusing it; see docs/checkpoints.md')
    parser.add_argument(
        '--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
        help='override config entries, e.g. train_cfg.max_iters=10 '
        'optim_wrapper.optimizer.lr=1e-4 "model.frames=[0,1]"')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (set by dist_train.sh / slurm_train.sh)')
    # torch.distributed.launch passes --local-rank; torchrun uses LOCAL_RANK (read by tgl_mm)
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    install_checkpoint_safety()  # --resume / load_from: weights-only; atomic saves
    cfg = load_config(args.config, args.cfg_options)
    apply_train_args(cfg, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
                     launcher=args.launcher, seed=args.seed, deterministic=args.deterministic,
                     non_strict=args.non_strict)
    with launch_session(cfg):
        runner = build_runner(cfg)
        runner.train()


if __name__ == '__main__':
    sys.exit(run_tool(main))
