"""The TAM's scoring pass with K sentences: one batch per chunk against one sentence at a time,
side by side in one run.

The TAM reads every frame on the adapter path for each sentence (``TGLSAM2.tam_inputs``), so
``--grounding tam`` and ``hybrid`` pay this pass on top of the segmentation. The K sentences of
a video now go through it as one batch (the chunk's trunk once, K adapter-path rows); before,
each sentence ran its own adapter path over the chunk's shared trunk (:func:`one_at_a_time`).
The model is the tiny TAM config (``configs/tgl/tgl_tiny_synthetic_tam.py``: the shipped
stages, MiniLM, a random TAM; the TAM's weights do not change the cost), on a random 24-frame
video at 128 px; the repetitions alternate and the best time of each is kept.

    python benchmarks/bench_tam_pass.py [--sentences 1 2 4 8] [--frames 24] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/tgl/tgl_tiny_synthetic_tam.py'
TEXTS = ('the red circle moving to the left', 'a square that stops', 'the small blue thing',
         'the triangle which jumps', 'the object flashing at the end', 'the big green square',
         'the two circles', 'the shape turning around')


@torch.no_grad()
def one_at_a_time(model, frames: torch.Tensor, group: list) -> None:
    """The pass as it ran before: per chunk, the trunk once (shared), then each sentence's
    adapter path on its own."""
    from tgl_mm.models.segmentors.chunked_features import path_chunks
    from tgl_mm.models.segmentors.shared_features import SharedFrameFeatures
    shared = SharedFrameFeatures(model.image_backbone, model.neck, model.frame_loader(frames),
                                 model.shared_cache_frames)
    tokens = [model.tokenize([sample]) for sample in group]
    chunks, _ = path_chunks(torch.ones(frames.shape[0], dtype=torch.bool), model.chunk_size)
    for chunk in chunks:
        trunk = shared.trunk(chunk)
        for tok in tokens:
            model.encode_adapted_chunk(trunk, tok, chunk)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sentences', type=int, nargs='+', default=[1, 2, 4, 8])
    p.add_argument('--frames', type=int, default=24)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from tgl_mm.apis import init_model
    from tgl_mm.structures import VideoDataSample
    from tgl_mm.utils import install_checkpoint_safety
    install_checkpoint_safety()
    MMLogger.get_instance('bench_tam_pass', log_level='WARNING')
    cfg = Config.fromfile(str(CONFIG))
    cwd = Path.cwd()
    os.chdir(REPO)                                   # the config's checkpoint paths
    try:
        model = init_model(cfg)
    finally:
        os.chdir(cwd)
    size = model.input_size
    frames = torch.randint(0, 255, (args.frames, 3, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))

    def samples(k: int) -> list:
        return [VideoDataSample(metainfo=dict(text=TEXTS[i % len(TEXTS)], video_id='v',
                                              exp_id=str(i))) for i in range(k)]

    print(f'TAM scoring pass, {args.frames} frames at {size} px, {args.threads} thread(s); best '
          f'of {args.repeats} (ms per video):')
    print('| sentences | one batch | one at a time | speed-up |\n|---|---|---|---|')
    model.video_tam_inputs(frames, samples(max(args.sentences)))      # warm-up, text cache
    for k in args.sentences:
        group = samples(k)
        best = {'batch': float('inf'), 'alone': float('inf')}
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.video_tam_inputs(frames, group)
            best['batch'] = min(best['batch'], time.perf_counter() - start)
            start = time.perf_counter()
            one_at_a_time(model, frames, group)
            best['alone'] = min(best['alone'], time.perf_counter() - start)
        print(f'| {k} | {1000 * best["batch"]:.0f} | {1000 * best["alone"]:.0f} | '
              f'{best["alone"] / best["batch"]:.2f}x |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
