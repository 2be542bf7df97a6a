"""The cost of the adapter's HSA: the tiny recipe with and without it, side by side.

* parameters: HSA's trainable parameters in the tiny config (``tgl_tiny_synthetic_hsa.py``)
  and in the Hiera-B+ paper config (``tgl_hiera-b_mevis-m.py``, adapter only: no weights needed);
* ``train``: one training step (forward, OSS loss, backward, Adam step) of the tiny recipe on a
  batch shaped like its training batches (``batch_size`` clips of ``num_frames`` frames at the
  config's input size, half of each clip in M+, as the moment-aware sampler draws them);
* ``infer``: whole-video inference per frame (a ``--video-frames`` video, oracle grounding) with
  half the frames in M+ and with every frame in M+ (``none`` grounding: every frame through the
  adapter, HSA's worst case).

Both models are built from the configs (shipped stage-0 SAM2, packaged MiniLM, shipped image
pretraining); inputs are random (the cost does not depend on them). Repetitions alternate between
the two models; the median of each is reported with the ratio with/without HSA. Wall-clock times
on a shared machine: read the ratios, not the absolute values.

Usage (about 1.5 minutes on one thread)::

    OMP_NUM_THREADS=1 python benchmarks/bench_hsa.py [--repeats 30] [--video-frames 24]
        [--threads 1] [--out benchmarks/results/bench_hsa.json]
"""
from __future__ import annotations

import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

import argparse  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

from tgl_mm.registry import GROUNDINGS, MODELS  # noqa: E402
from tgl_mm.structures import VideoDataSample  # noqa: E402

CONFIGS = {'without HSA': 'configs/tgl/tgl_tiny_synthetic.py',
           'with HSA': 'configs/tgl/tgl_tiny_synthetic_hsa.py'}
PAPER_CONFIG = 'configs/tgl/tgl_hiera-b_mevis-m.py'


def hsa_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for k, p in module.named_parameters() if '.hsa.' in k or
               k.startswith('hsa.'))


def build_model(path: str):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def train_batch(cfg: Config, seed: int = 0) -> tuple[torch.Tensor, list[VideoDataSample]]:
    """A batch shaped like the config's training batches (random content)."""
    loader = cfg.train_dataloader
    batch, steps = loader.batch_size, loader.dataset.frame_sampling.num_frames
    size = cfg.model.image_backbone.image_size
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, steps, 3, size, size, generator=gen)
    samples = []
    for b in range(batch):
        s = VideoDataSample(metainfo=dict(text='the square moving to the left', video_id=f'v{b}',
                                          exp_id='0', frame_inds=list(range(3, 3 + 2 * steps, 2))))
        s.gt_mplus = torch.arange(steps) % 2 == 0          # half of the clip in M+
        masks = torch.zeros(steps, size, size, dtype=torch.bool)
        masks[:, size // 4: size // 2, size // 4: size // 2] = True
        s.gt_masks = masks
        samples.append(s)
    return inputs, samples


def video_sample(num: int, size: int) -> VideoDataSample:
    s = VideoDataSample(metainfo=dict(
        text='the square moving to the left', video_id='vid', exp_id='0',
        frame_names=[f'{i:05d}' for i in range(num)], ori_shape=(size, size),
        img_shape=(size, size), has_moments=True))
    s.gt_mplus = torch.arange(num) % 2 == 0
    return s


def median_times(fns: dict[str, Callable[[], None]], repeats: int, warmup: int = 2
                 ) -> dict[str, float]:
    """Median seconds of each function, repetitions alternating between them."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--video-frames', type=int, default=24)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', default=None, help='also write the results (JSON) here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-tensor init report

    models, cfgs = {}, {}
    for name, path in CONFIGS.items():
        models[name], cfgs[name] = build_model(path)
    paper_neck = MODELS.build(Config.fromfile(PAPER_CONFIG).model.neck)
    params = dict(tiny=hsa_parameters(models['with HSA']), paper=hsa_parameters(paper_neck),
                  tiny_trainable=models['with HSA'].parameter_counts()['all'][0],
                  paper_adapter=sum(p.numel() for p in paper_neck.parameters()))
    print(f'HSA parameters: tiny {params["tiny"]:,} (of {params["tiny_trainable"]:,} trainable), '
          f'Hiera-B+ paper config {params["paper"]:,} (adapter with HSA '
          f'{params["paper_adapter"]:,}); {args.threads} thread(s)')

    # --- training step ---------------------------------------------------------------------
    def train_step(name: str) -> Callable[[], None]:
        model = models[name].train()
        optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-6)
        inputs, samples = train_batch(cfgs[name])

        def step() -> None:
            optim.zero_grad()
            sum(model(inputs, samples, mode='loss').values()).backward()
            optim.step()
        return step

    train = median_times({name: train_step(name) for name in models}, args.repeats)

    # --- inference per frame -----------------------------------------------------------------
    size = cfgs['with HSA'].model.image_backbone.image_size
    frames = torch.randint(0, 255, (1, args.video_frames, 3, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(1))
    infer = {}
    for grounding in ('oracle', 'none'):
        for model in models.values():
            model.eval()
            model.grounding = GROUNDINGS.build(dict(type=grounding))

        def run(name: str) -> Callable[[], None]:
            return lambda: models[name].predict(frames, [video_sample(args.video_frames, size)])
        infer[grounding] = {name: t / args.video_frames for name, t in median_times(
            {name: run(name) for name in models}, args.repeats, warmup=1).items()}

    rows = [('train step (s)', train)] + [
        (f'infer per frame (s), {"half" if g == "oracle" else "all"} in M+', infer[g])
        for g in ('oracle', 'none')]
    print(f'{"":40s} {"without HSA":>12s} {"with HSA":>12s} {"ratio":>7s}')
    results = dict(parameters=params, threads=args.threads, repeats=args.repeats,
                   video_frames=args.video_frames, rows=[])
    for label, t in rows:
        ratio = t['with HSA'] / t['without HSA']
        print(f'{label:40s} {t["without HSA"]:12.4f} {t["with HSA"]:12.4f} {ratio:7.2f}')
        results['rows'].append(dict(what=label, without_hsa=t['without HSA'],
                                    with_hsa=t['with HSA'], ratio=ratio))
    if args.out:
        from tgl_mm.utils.fileio import atomic_dump_json
        atomic_dump_json(results, args.out)


if __name__ == '__main__':
    main()
