"""What the paper's setting costs on this machine: one training step at the paper's clip and
streaming inference of long 1024-px videos beside sam2's ``SAM2VideoPredictor``.

    python benchmarks/bench_paper_size.py [--configs b l] [--sizes 512 768 1024] [--frames 8]
        [--video-frames 300 1000] [--video-size 1024] [--out benchmarks/results/paper_size.json]

``train``: for each config (``b``: configs/tgl/tgl_hiera-b_mevis-m.py, ``l``:
tgl_hiera-l_mevis-m.py, their real architectures: Hiera-B+ / Hiera-L, a RoBERTa-base-shaped text
encoder, adapters with HSA, the MDP head; random weights in the official layouts, see
:mod:`tgl_mm.engine.paper_size`), each input size and activation checkpointing off and on
(``model.image_backbone.activation_checkpointing``): one warm-up and ``--iters`` timed training
iterations of a synthetic ``--frames``-frame clip, batch 1, float32 on the CPU (no AMP: the
GPU's bf16 figure is estimated from these, see docs/model.md). Each case is a fresh process, so
its peak RSS (``ru_maxrss``) is its own; it includes the model (weights): ``built_mb`` is the
peak once the model and batch exist, ``step_mb`` what the steps add (activations, gradients,
Adam state).

``stream``: the Hiera-B+ config at ``--video-size`` on generated ``--video-frames``-frame videos,
two sentences (``none`` grounding: every frame M+, the two sentences one batch) beside
``SAM2VideoPredictor`` tracking two objects on the same SAM2 weights (offloading the video and
state to the CPU, as for long videos): peak RSS and frames/s, each a fresh process.

A case that does not fit in memory is killed by the system: it is reported as such, and a smaller
size or fewer frames are measured instead (the docs extrapolate, saying so).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = dict(b=REPO / 'configs/tgl/tgl_hiera-b_mevis-m.py',
               l=REPO / 'configs/tgl/tgl_hiera-l_mevis-m.py')


def child(spec: dict) -> dict:
    """One measured case (in its own process)."""
    import torch

    from tgl_mm.engine import paper_size as ps
    torch.manual_seed(0)
    files = Path(spec['files'])
    if spec.get('random', True):
        cfg = ps.random_weight_config(spec['config'], files, image_size=spec.get('size'),
                                      text=spec.get('text', 'roberta-base'),
                                      arch=spec.get('arch'))
    else:   # the config's own weights (the tiny config: stage-0 SAM2, MiniLM)
        from mmengine.config import Config
        cfg = Config.fromfile(spec['config'])
    if spec['kind'] == 'train':
        cfg.model.image_backbone.activation_checkpointing = spec['checkpointing']
        model, optim = ps.build_train_model(cfg, 'cpu', amp=False)
        data = ps.synthetic_clip(spec['frames'], model.head.image_size)
        built_mb = ps.peak_memory_mb('cpu')   # the model and the batch, before any step
        out = ps.train_steps(model, optim, data, spec['iters'], 'cpu')
        return dict(out, built_mb=built_mb, step_mb=out['peak_mb'] - built_mb,
                    **ps.trained_share(model))
    folder = files / f'video_{spec["video_frames"]}_{spec["sentences"]}'
    masks = ps.write_moving_squares(folder, spec['video_frames'], spec['sentences'])
    if spec['kind'] == 'ours':
        from tgl_mm.apis import init_model
        model = init_model(cfg)
        return ps.stream_ours(model, folder, spec['sentences'], 'cpu')
    head = cfg.model.head   # a relative checkpoint path is the repository's (cwd)
    predictor = ps.build_sam2_video_predictor(head.checkpoint, head.arch, head.image_size, 'cpu')
    return ps.stream_sam2(predictor, folder, masks, 'cpu')


def measure(spec: dict, timeout: float = 7200) -> dict:
    """Run :func:`child` in a fresh, niced process; a killed one (out of memory) is reported."""
    cmd = ['nice', '-n', '15', sys.executable, __file__, '_child', json.dumps(spec)]
    tic = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        return dict(spec, failed=f'exit status {proc.returncode}'
                    + (' (killed: out of memory?)' if proc.returncode < 0 else ''),
                    stderr=proc.stderr[-1500:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return dict(spec, **out, process_s=time.perf_counter() - tic)


def show(row: dict) -> str:
    if 'failed' in row:
        return row['failed']
    if row['kind'] == 'train':
        return (f'{row["s_per_it"]:7.1f} s/it  peak RSS {row["peak_mb"] / 1024:5.1f} GB '
                f'(model built {row["built_mb"] / 1024:4.1f} GB, step +'
                f'{row["step_mb"] / 1024:5.1f} GB)  trained {row["trained_m"]:.1f} M of '
                f'{row["total_m"]:.1f} M '
                f'({row["trained_percent"]:.1f} %)')
    return f'{row["fps"]:6.2f} frames/s  peak RSS {row["peak_mb"] / 1024:5.1f} GB'


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == '_child':
        print(json.dumps(child(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=['b', 'l'], choices=list(CONFIGS))
    parser.add_argument('--sizes', type=int, nargs='*', default=[512, 768, 1024],
                        help='training input sizes (none: streaming cases only)')
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--iters', type=int, default=1)
    parser.add_argument('--video-frames', type=int, nargs='*', default=[300, 1000])
    parser.add_argument('--video-size', type=int, default=1024)
    parser.add_argument('--files', default='work_dirs/bench_paper_size')
    parser.add_argument('--out', default='benchmarks/results/paper_size.json')
    args = parser.parse_args()
    files = str(Path(args.files).resolve())
    rows = []
    for name in args.configs:
        for size in args.sizes:
            for ckpt in (False, True):
                row = measure(dict(kind='train', config=str(CONFIGS[name]), size=size,
                                   frames=args.frames, iters=args.iters, checkpointing=ckpt,
                                   files=files))
                rows.append(row)
                print(f'train {name} {size:4d} px {args.frames} frames, activation '
                      f'checkpointing {"on " if ckpt else "off"}: {show(row)}', flush=True)
    for num in args.video_frames:
        for kind in ('ours', 'sam2'):
            row = measure(dict(kind=kind, config=str(CONFIGS['b']), size=args.video_size,
                               video_frames=num, sentences=2, files=files))
            rows.append(row)
            print(f'stream {kind:4s} {num:5d} frames at {args.video_size} px, 2 sentences: '
                  f'{show(row)}', flush=True)
    from tgl_mm.utils.fileio import atomic_dump_json
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_dump_json(rows, args.out, indent=1)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
