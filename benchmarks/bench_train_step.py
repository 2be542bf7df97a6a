"""The tiny recipe's training step: where the time goes, and the cheap wins side by side.

Every benchmark row and ``make demo`` pays for 800 of these iterations. The script builds the
tiny recipe (``configs/tgl/tgl_tiny_synthetic.py``, its real train dataloader) twice:

* ``before``: the recipe without the cheap wins: Adam one tensor at a time
  (``fused=False``), gradient clipping one tensor at a time (``foreach=False``) and the text
  encoder's frozen layers run for every clip (``prefix_cache_size=0``);
* ``after``: the recipe as it is (fused Adam, foreach clipping, the frozen text layers before
  the first adapter cached per sentence: ``HFTextEncoder.encode_prefix``).

Blocks of ``--iters`` iterations alternate between the two (after ``--warmup`` iterations
each), ``--repeats`` times; each variant's median ms per iteration and the ratio are printed.
Then one profile of ``after``: wall time per part of the step (data loading; forward of the
image encoder, text layers, adapter, memory attention, memory encoder, mask decoder, loss;
backward; optimizer step), summed over ``--iters`` iterations.

    python benchmarks/bench_train_step.py [--data-root data/synthetic_mevis_m] [--iters 40] \
        [--repeats 3] [--threads 1] [--out benchmarks/results/bench_train_step.json]
"""
from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'configs/tgl/tgl_tiny_synthetic.py'
#: what ``before`` sets back (config keys as ``--cfg-options`` writes them)
WITHOUT_WINS = {
    'optim_wrapper.optimizer.fused': False,
    'optim_wrapper.clip_grad.foreach': False,
    'model.text_backbone.prefix_cache_size': 0,
}


class Step:
    """One variant: model, optimizer wrapper and an endless iterator over its dataloader."""

    def __init__(self, options: dict, data_root: str, seed: int = 0) -> None:
        from mmengine.runner import Runner

        from tgl_mm.engine import load_config
        from tgl_mm.engine.paper_size import build_train_model
        opts = {f'{k}.dataset.data_root': data_root
                for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
        cfg = load_config(str(REPO / CONFIG), {**opts, **options})
        torch.manual_seed(seed)
        self.model, self.optim = build_train_model(cfg, 'cpu', amp=False)
        self.loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        self.batches = self._forever()
        self.times: dict[str, float] = collections.defaultdict(float)

    def _forever(self) -> Iterator:
        while True:
            yield from self.loader

    def run(self, iters: int) -> float:
        """Seconds for ``iters`` iterations (data loading included), as the runner runs them."""
        start = time.perf_counter()
        for _ in range(iters):
            t = time.perf_counter()
            data = next(self.batches)
            self.times['data loading'] += time.perf_counter() - t
            t = time.perf_counter()
            with self.optim.optim_context(self.model):
                data = self.model.data_preprocessor(data, True)
                losses = self.model._run_forward(data, mode='loss')
            loss, _ = self.model.parse_losses(losses)
            self.times['forward'] += time.perf_counter() - t
            t = time.perf_counter()
            self.optim.backward(loss)
            self.times['backward'] += time.perf_counter() - t
            t = time.perf_counter()
            self.optim.step()
            self.optim.zero_grad()
            self.times['optimizer step (with clipping)'] += time.perf_counter() - t
        return time.perf_counter() - start

    def time_forward_parts(self) -> None:
        """Add each part's forward time to :attr:`times` (forward hooks)."""
        model = self.model
        sam2 = model.head.sam2
        parts = {
            'image encoder (Hiera blocks, FPN)': [*model.image_backbone.encoder.trunk.blocks,
                                                  model.image_backbone.encoder.neck],
            'text encoder layers': list(model.text_backbone.hf_model.encoder.layer),
            'adapter (cross-modal layers)': list(model.neck.layers),
            'memory attention': [sam2.memory_attention],
            'memory encoder': [sam2.memory_encoder],
            'mask decoder (+ prompt encoder)': [sam2.sam_mask_decoder, sam2.sam_prompt_encoder],
            'text prompt MLP': [model.prompt],
            'loss (Dice + focal + object score)': [model.loss_module],
        }
        for name, modules in parts.items():
            for module in modules:
                start: list[float] = []
                module.register_forward_pre_hook(
                    lambda *_, s=start: s.append(time.perf_counter()))
                module.register_forward_hook(
                    lambda *_, s=start, n=name: self.times.__setitem__(
                        f'  {n}', self.times[f'  {n}'] + time.perf_counter() - s.pop()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data-root', default='data/synthetic_mevis_m')
    p.add_argument('--iters', type=int, default=40)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=None, help='also write the figures to this JSON file')
    args = p.parse_args(argv)
    if not (REPO / args.data_root / 'train').is_dir() and not Path(args.data_root).is_dir():
        print(f'bench_train_step: no data in {args.data_root!r}: make it with '
              'python tools/data/make_synthetic_mevis_m.py --out-dir ' + args.data_root,
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    from mmengine.logging import MMLogger

    from tgl_mm.utils import install_checkpoint_safety
    install_checkpoint_safety()
    MMLogger.get_instance('bench_train_step', log_level='WARNING')  # no init_weights table
    steps = {'before': Step(WITHOUT_WINS, args.data_root), 'after': Step({}, args.data_root)}
    for step in steps.values():
        step.run(args.warmup)
    ms: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            ms[name].append(1000 * step.run(args.iters) / args.iters)
    median = {name: statistics.median(v) for name, v in ms.items()}
    print(f'tiny recipe training step, {args.threads} thread(s), median of {args.repeats} '
          f'blocks of {args.iters} iterations (interleaved):')
    for name, v in ms.items():
        print(f'  {name:7s} {median[name]:6.1f} ms/it  ({1000 / median[name]:.2f} it/s; '
              f'blocks {", ".join(f"{x:.1f}" for x in v)})')
    ratio = median['before'] / median['after']
    print(f'  speed-up after / before: {ratio:.3f}x')

    after = steps['after']
    after.times.clear()
    after.time_forward_parts()
    seconds = after.run(args.iters)
    print(f'profile of "after" ({args.iters} iterations, {1000 * seconds / args.iters:.1f} '
          'ms/it; indented: parts of the forward):')
    profile = {}
    for name, value in after.times.items():
        profile[name.strip()] = 1000 * value / args.iters
        print(f'  {name:42s} {1000 * value / args.iters:6.1f} ms/it  '
              f'{100 * value / seconds:5.1f} %')
    if args.out:
        from tgl_mm.utils.fileio import atomic_dump_json
        atomic_dump_json(dict(config=CONFIG, threads=args.threads, iters=args.iters,
                              repeats=args.repeats, ms_per_it=ms, median_ms_per_it=median,
                              speedup=ratio, without_wins=WITHOUT_WINS,
                              profile_ms_per_it=profile, profile_total_ms_per_it=
                              1000 * seconds / args.iters), args.out)
        print(f'written {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
