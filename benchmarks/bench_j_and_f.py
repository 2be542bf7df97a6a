"""J&F speed: tgl_mm's ``j_and_f`` against the straightforward DAVIS per-frame loop.

``j_and_f`` runs with each backend it has (the compiled kernel, the default, and the numpy
fall-back), the reference (one ``cv2.dilate`` per boundary map per frame) beside them, on the same
synthetic RVOS-like mask videos at 480x854 (MeViS resolution), in one process (interleaved
repetitions, best time of each). All must return identical values (``np.array_equal``; the script
exits non-zero otherwise). Timings are taken with OpenCV's default
thread count (the reference's ``cv2.dilate`` then runs on several cores) and with one thread (a
per-core comparison). Scenarios (several videos each):

* ``small`` / ``medium`` / ``large``: one moving object of 0.5-2 %, 2-8 % or 15-40 % of the frame;
* ``mixed`` (the headline, MeViS-like): 1-3 referred objects of mixed sizes, absent in ~15 % of
  the frames, predictions with jittered boundaries, some missed frames, false positives and
  wrong-object frames.

Usage::

    python benchmarks/bench_j_and_f.py [--videos 4] [--frames 15] [--repeats 3] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from tgl_mm.evaluation.functional import j_and_f, j_and_f_reference
from tgl_mm.evaluation.functional.davis_jf import jf_backend

H, W = 480, 854
SIZES = {'small': (0.005, 0.02), 'medium': (0.02, 0.08), 'large': (0.15, 0.40)}


def _blob(rng: np.random.Generator, area_frac: float) -> dict:
    """A wobbly closed shape with a position, velocity and size (area fraction of the frame)."""
    radius = np.sqrt(area_frac * H * W / np.pi)
    return dict(center=rng.uniform([0.2 * W, 0.2 * H], [0.8 * W, 0.8 * H]),
                velocity=rng.normal(0, 3, 2), radius=radius, aspect=rng.uniform(0.6, 1.6),
                harmonics=[(k, rng.uniform(0.02, 0.12), rng.uniform(0, 2 * np.pi))
                           for k in (2, 3, 5, 7)])


def _draw(blob: dict, t: int, jitter: float = 0.0, rng: np.random.Generator | None = None,
          offset: tuple[float, float] = (0.0, 0.0), scale: float = 1.0) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    r = np.ones_like(theta)
    for k, amp, phase in blob['harmonics']:
        r += amp * np.sin(k * theta + phase + 0.05 * t)
    r *= blob['radius'] * scale
    if jitter and rng is not None:
        r += rng.normal(0, jitter, theta.size)
    cx, cy = blob['center'] + blob['velocity'] * t + np.asarray(offset)
    pts = np.stack([cx + r * np.cos(theta) * blob['aspect'],
                    cy + r * np.sin(theta) / blob['aspect']], axis=1)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def make_video(scenario: str, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` bool ``(frames, 480, 854)`` for a scenario (see module docstring)."""
    rng = np.random.default_rng(seed)
    if scenario in SIZES:
        lo, hi = SIZES[scenario]
        targets = [_blob(rng, rng.uniform(lo, hi))]
        distractors: list[dict] = []
        absent = np.zeros(frames, bool)
        p_miss = p_fp = p_wrong = 0.0
    elif scenario == 'mixed':
        targets = [_blob(rng, np.exp(rng.uniform(np.log(0.005), np.log(0.25))))
                   for _ in range(rng.integers(1, 4))]
        distractors = [_blob(rng, np.exp(rng.uniform(np.log(0.005), np.log(0.1))))]
        absent = rng.random(frames) < 0.15
        p_miss, p_fp, p_wrong = 0.05, 0.1, 0.05
    else:
        raise ValueError(f'unknown scenario {scenario!r}')
    gt = np.zeros((frames, H, W), bool)
    pred = np.zeros((frames, H, W), bool)
    for t in range(frames):
        offset = tuple(rng.normal(0, 2, 2))
        scale = rng.uniform(0.95, 1.05)
        for b in targets:
            if not absent[t]:
                gt[t] |= _draw(b, t)
                pred[t] |= _draw(b, t, jitter=1.5, rng=rng, offset=offset, scale=scale)
        u = rng.random()
        if u < p_miss:
            pred[t] = False
        elif u < p_miss + p_wrong and distractors:
            pred[t] = _draw(distractors[0], t, jitter=1.5, rng=rng)
        elif u < p_miss + p_wrong + p_fp and distractors:
            pred[t] |= _draw(distractors[0], t, jitter=1.5, rng=rng)
    return pred, gt


def make_scenario(scenario: str, videos: int, frames: int, seed: int) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """``videos`` videos of ``frames`` frames each (different seeds), concatenated."""
    parts = [make_video(scenario, frames, seed * 1000 + v) for v in range(videos)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([g for _, g in parts])


def _time(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', type=int, default=4, help='videos per scenario')
    parser.add_argument('--frames', type=int, default=15, help='frames per video')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs (best is kept)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scenarios', nargs='+', default=['small', 'medium', 'large', 'mixed'])
    parser.add_argument('--cv-threads', type=int, nargs='+', default=None,
                        help='OpenCV thread counts to measure with (default: OpenCV\'s own '
                        'setting, then 1 - the reference\'s cv2.dilate is multi-threaded)')
    args = parser.parse_args(argv)
    settings = args.cv_threads or [cv2.getNumThreads(), 1]

    n = args.videos * args.frames
    backends = ['c', 'numpy'] if jf_backend() == 'c' else ['numpy']
    print(f'J&F on {H}x{W} masks: {args.videos} videos x {args.frames} frames per scenario, '
          f'best of {args.repeats} interleaved runs (bound_th 0.008 -> disk radius 8); '
          f'j_and_f backends: {", ".join(backends)} (default: {backends[0]})')
    ok = True
    ratios: dict[tuple[str, str, int], float] = {}
    data = {sc: make_scenario(sc, args.videos, args.frames, args.seed + i)
            for i, sc in enumerate(args.scenarios)}
    for sc, (pred, gt) in data.items():
        ref = j_and_f_reference(pred, gt)
        same = True
        for b in backends:
            fast = j_and_f(pred, gt, backend=b)
            same &= np.array_equal(ref[0], fast[0]) and np.array_equal(ref[1], fast[1])
        ok &= same
        print(f'  {sc:<8} foreground {100 * gt.mean():5.1f} % of the frame (GT), values '
              f'{"identical" if same else "DIFFERENT"}')
    default_threads = cv2.getNumThreads()
    for threads in settings:
        cv2.setNumThreads(threads)
        print(f'\nOpenCV threads: {threads}   (ms per frame; speed-up = reference / backend)')
        print(f'{"scenario":<10}{"reference":>11}'
              + ''.join(f'{b:>10}{"speed-up":>10}' for b in backends))
        for sc, (pred, gt) in data.items():
            t_ref = float('inf')
            t_fast = dict.fromkeys(backends, float('inf'))
            for _ in range(args.repeats):  # interleaved, so load changes hit all alike
                t_ref = min(t_ref, _time(j_and_f_reference, pred, gt))
                for b in backends:
                    t_fast[b] = min(t_fast[b], _time(j_and_f, pred, gt, backend=b))
            row = f'{sc:<10}{1e3 * t_ref / n:>11.3f}'
            for b in backends:
                ratios[sc, b, threads] = t_ref / t_fast[b]
                row += f'{1e3 * t_fast[b] / n:>10.3f}{ratios[sc, b, threads]:>9.1f}x'
            print(row)
    cv2.setNumThreads(default_threads)
    print()
    for threads in settings:
        for b in backends:
            vals = {sc: r for (sc, bb, th), r in ratios.items() if th == threads and bb == b}
            print(f'speed-up of j_and_f ({b}) with {threads} OpenCV thread(s): '
                  + ', '.join(f'{sc} {r:.1f}x' for sc, r in vals.items()))
    if not ok:
        print('ERROR: j_and_f differs from the reference', file=sys.stderr)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
