"""Streaming inference: peak memory and frames/s against video length, and image-encoder passes
per expression with and without sharing across sentences, side by side in one run.

    python benchmarks/bench_streaming.py memory  [--lengths 100 200 500 1000 2000]
    python benchmarks/bench_streaming.py sharing [--data-root data/synthetic_mevis_m]
    python benchmarks/bench_streaming.py test    [--videos 3] [--size 256] [--arch sam2.1_hiera_b+]

``memory``: the tiny model (its 128 px input; the stage-0 weights its config loads, the rest
random) on generated 360x640 MP4s of each length, two sentences. Each run is a fresh
subprocess, so its peak RSS (``ru_maxrss``) is its own: ``streaming`` is
:func:`tgl_mm.apis.streaming.segment_expressions` (masks dropped as they come); ``whole`` is the
pre-streaming way (decode every frame, resize, normalise all of them to float32, predict; masks
kept), run up to ``--whole-max`` frames; ``sam2`` is sam2's ``SAM2VideoPredictor`` on the same
SAM2 weights with ``offload_video_to_cpu`` and ``offload_state_to_cpu`` (the video's frames as
JPEGs, written beforehand; the two objects prompted with their masks on frame 0 instead of
sentences; outputs dropped), up to ``--sam2-max`` frames. frames/s counts frames x sentences
(objects for sam2) per second, decoding included. Prints MB and frames/s, and the ratio of the
peak at the longest to the peak at 200 frames.

``sharing``: synthetic MeViS-M ``valid_u`` with oracle grounding: image-encoder passes (frames
through the encoder trunk) per expression when the expressions of a video run side by side
(shared bounded cache) against one at a time, and the ratio.

``test``: ``tools/test.py``'s path (the calls its ``main`` makes: ``load_config``,
``apply_test_args``, ``build_runner``, ``runner.test()``) over ``--videos`` generated synthetic
``valid_u`` videos, oracle grounding, with the paper's image encoder (``--arch``, random
weights) at a CPU-friendly ``--size``, a tiny FPN/head (hidden 64, the ``tiny`` SAM2 head) and the
tiny config's text encoder. Each run is a fresh process: the config's test dataloader
(``VideoBatchSampler``, up to 8 expressions of a video per batch, segmented side by side) against
``test_dataloader.batch_size=1`` (one expression per batch, nothing shared). Prints the process
wall time, the test loop's time, image-encoder passes per expression, J&F (equal: the masks are
the same) and the ratios.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/tgl/tgl_tiny_synthetic.py'
TEXTS = ['the red square moving right', 'the blue circle']


def make_video(path: Path, num: int, size=(360, 640)) -> Path:
    import cv2
    import numpy as np
    if path.exists():
        return path
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 25, size[::-1])
    for i in range(num):
        frame = np.full((*size, 3), 50, np.uint8)
        x = (7 * i) % (size[1] - 80)
        frame[100:180, x:x + 80] = (40, 40, 220)
        cv2.circle(frame, (size[1] - 60 - x // 2, 260), 40, (220, 120, 30), -1)
        writer.write(frame)
    writer.release()
    return path


def jpeg_folder(video: Path) -> Path:
    """The video's frames as ``<video stem>_jpg/%05d.jpg`` (sam2's ``init_state`` reads a JPEG
    folder; its mp4 reader needs decord), written once."""
    import cv2
    folder = video.with_name(video.stem + '_jpg')
    if not folder.exists():
        tmp = folder.with_name(folder.name + '.partial')
        tmp.mkdir(parents=True, exist_ok=True)
        capture = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            cv2.imwrite(str(tmp / f'{index:05d}.jpg'), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            index += 1
        capture.release()
        tmp.rename(folder)
    return folder


def sam2_child(video: str) -> tuple[int, int]:
    """sam2's ``SAM2VideoPredictor`` on the same weights as ours (the stage-0 ``.pt`` the tiny
    config loads), CPU, ``offload_video_to_cpu`` and ``offload_state_to_cpu``: ``init_state`` on
    the video's JPEG folder, the two objects of :func:`make_video` prompted with their masks on
    frame 0, ``propagate_in_video`` (outputs dropped). Returns (frames, objects)."""
    from functools import partialmethod

    import numpy as np
    from bench_stage0_tracking import build_sam2_predictor
    from mmengine.config import Config
    from tqdm import tqdm
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)
    cfg = Config.fromfile(CONFIG)
    predictor = build_sam2_predictor(str(REPO / cfg.stage0_checkpoint),
                                     cfg.model.head.image_size, multimask=False)
    state = predictor.init_state(str(jpeg_folder(Path(video))), offload_video_to_cpu=True,
                                 offload_state_to_cpu=True)
    h, w = state['video_height'], state['video_width']
    square = np.zeros((h, w), bool)
    square[100:180, 0:80] = True
    yy, xx = np.mgrid[:h, :w]
    circle = (yy - 260) ** 2 + (xx - (w - 60)) ** 2 <= 40 ** 2
    for obj, mask in enumerate((square, circle), 1):
        predictor.add_new_mask(state, frame_idx=0, obj_id=obj, mask=mask)
    for _ in predictor.propagate_in_video(state):
        pass
    return state['num_frames'], 2


def child(mode: str, video: str) -> None:
    """One measured run (in its own process): print a JSON line."""
    import torch

    from tgl_mm.apis import build_sample, init_model, read_frames
    from tgl_mm.apis.streaming import segment_expressions
    if mode == 'sam2':   # our model is not built: the peak is sam2's alone
        start = time.perf_counter()
        with torch.inference_mode():
            num, _ = sam2_child(video)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(dict(mode=mode, frames=num, peak_mb=peak_mb,
                              fps=num * len(TEXTS) / seconds)))
        return
    torch.manual_seed(0)
    model = init_model(str(CONFIG))
    start = time.perf_counter()
    if mode == 'streaming':
        run = segment_expressions(model, video, TEXTS, lambda k, t, m: None)
        num = run.num_frames
    else:
        from tgl_mm.registry import GROUNDINGS
        model.grounding = GROUNDINGS.build(dict(type='none'))
        frames, names = read_frames(video)
        num = len(frames)
        for text in TEXTS:
            inputs, sample = build_sample(frames, names, text, model.head.image_size)
            data = model.data_preprocessor(dict(inputs=[inputs], data_samples=[sample]), False)
            with torch.no_grad():
                model.predict(data['inputs'], data['data_samples'])
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(mode=mode, frames=num, peak_mb=peak_mb,
                          fps=num * len(TEXTS) / seconds)))


def paper_encoder_config(cfg, size: int, arch: str) -> None:
    """Turn the tiny config into ``arch``'s image encoder (random weights) at ``size`` px with a
    hidden-64 FPN neck, the ``tiny`` SAM2 head and the tiny text encoder (in place)."""
    from tgl_mm.models.utils.sam2_settings import get_sam2_settings, stage_channels
    model = cfg.model
    model.image_backbone.update(arch=arch, image_size=size, arch_overrides=dict(hidden_dim=64),
                                checkpoint=None, checkpoint_sha256=None)
    settings = get_sam2_settings(arch)
    model.neck.vision_dims = tuple(stage_channels(settings)[i]
                                   for i in model.neck.get('adapter_stages', (1, 2, 3)))
    model.head.update(image_size=size, checkpoint=None, checkpoint_sha256=None)
    model.pretrained = None   # the shipped parts fit the tiny encoder only
    for transform in cfg.test_dataloader.dataset.pipeline:
        if transform['type'] == 'VideoResizePad':
            transform['size'] = size


def test_child(batch_size: int, data_root: str, size: int, arch: str, work_dir: str) -> None:
    """One ``tools/test.py`` run (in its own process): print a JSON line."""
    import torch

    from tgl_mm.engine import apply_test_args, build_runner, launch_session, load_config
    start = time.perf_counter()
    cfg = load_config(CONFIG, {'test_dataloader.dataset.data_root': data_root,
                               'test_dataloader.batch_size': batch_size})
    paper_encoder_config(cfg, size, arch)
    apply_test_args(cfg, None, work_dir=work_dir)
    torch.manual_seed(0)
    with launch_session(cfg):
        runner = build_runner(cfg)
        loop_start = time.perf_counter()
        metrics = runner.test()
        loop = time.perf_counter() - loop_start
    counts = runner.model.encoder_counts
    print(json.dumps(dict(batch_size=batch_size, loop_s=loop,
                          total_s=time.perf_counter() - start, **counts,
                          jf=[v for k, v in metrics.items() if k.endswith('J&F')][0])))


def bench_test(args) -> None:
    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    tmp = Path(args.tmp_dir)
    root = tmp / f'syn_{args.videos}'
    if not root.exists():
        make_synthetic_mevis_m(root, num_videos=1, num_valid_u=args.videos, num_valid=1,
                               seed=5, progress=False, log=None)
    runs = {}
    for batch_size in (8, 1):
        cmd = ['nice', '-n', '15', sys.executable, __file__, '_test_child', str(batch_size),
               str(root), str(args.size), args.arch, str(tmp / f'test_bs{batch_size}')]
        tic = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        run['process_s'] = time.perf_counter() - tic
        runs[batch_size] = run
    names = {8: 'shared (VideoBatchSampler)', 1: 'one expression per batch'}
    exps = runs[1]['expressions']
    print(f'tools/test.py, {args.videos} synthetic valid_u videos, {exps} expressions, oracle '
          f'grounding; {args.arch} image encoder (random weights) at {args.size} px, tiny head')
    for bs, run in runs.items():
        print(f'{names[bs]:>27}: process {run["process_s"]:6.1f} s, test loop '
              f'{run["loop_s"]:6.1f} s, per expression: '
              f'{run["trunk_frames"] / run["expressions"]:5.1f} image-encoder passes, '
              f'{run["raw_frames"] / run["expressions"]:5.1f} F_SAM frames, '
              f'{run["adapted_frames"] / run["expressions"]:5.1f} adapter-path frames; '
              f'J&F {run["jf"]:.2f}')
    print(f'ratio shared / one per batch: process wall time '
          f'{runs[8]["process_s"] / runs[1]["process_s"]:.3f}, test loop '
          f'{runs[8]["loop_s"] / runs[1]["loop_s"]:.3f}, image-encoder passes '
          f'{runs[8]["trunk_frames"] / runs[1]["trunk_frames"]:.3f}')


def measure(mode: str, video: Path) -> dict:
    cmd = ['nice', '-n', '15', sys.executable, __file__, '_child', mode, str(video)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_memory(args) -> None:
    tmp = Path(args.tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    rows = {}
    for num in args.lengths:
        video = make_video(tmp / f'bench_{num}.mp4', num)
        rows[num] = {'streaming': measure('streaming', video)}
        if num <= args.whole_max:
            rows[num]['whole'] = measure('whole', video)
        if num <= args.sam2_max:
            jpeg_folder(video)
            rows[num]['sam2'] = measure('sam2', video)
        cells = '  '.join(f'{m}: {r["peak_mb"]:7.0f} MB {r["fps"]:6.1f} frames/s'
                          for m, r in rows[num].items())
        print(f'{num:5d} frames  {cells}', flush=True)
    longest = max(args.lengths)
    if 200 in rows:
        ratio = rows[longest]['streaming']['peak_mb'] / rows[200]['streaming']['peak_mb']
        print(f'streaming peak RSS {longest} / 200 frames: {ratio:.3f}')
        sam2 = [n for n in rows if 'sam2' in rows[n]]
        if sam2 and max(sam2) > 200:
            n = max(sam2)
            print(f'sam2 SAM2VideoPredictor peak RSS {n} / 200 frames: '
                  f'{rows[n]["sam2"]["peak_mb"] / rows[200]["sam2"]["peak_mb"]:.3f}')
        whole = [n for n in rows if 'whole' in rows[n]]
        if whole and max(whole) > 200:
            n = max(whole)
            print(f'whole-video peak RSS {n} / 200 frames: '
                  f'{rows[n]["whole"]["peak_mb"] / rows[200]["whole"]["peak_mb"]:.3f}')


def bench_sharing(args) -> None:
    import torch
    from mmengine.config import Config

    from tgl_mm.apis import init_model
    from tgl_mm.registry import DATASETS
    from tgl_mm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(str(CONFIG))
    cfg.test_dataloader.dataset.data_root = args.data_root
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    torch.manual_seed(0)
    model = init_model(cfg)
    videos: dict[str, list] = {}
    for i in range(len(dataset)):
        item = dataset[i]
        videos.setdefault(item['data_samples'].metainfo['video_id'], []).append(item)
    totals = {'side by side': 0, 'one at a time': 0}
    expressions = sum(len(v) for v in videos.values())
    for items in videos.values():
        frames = items[0]['inputs']
        load = model.frame_loader(frames)
        samples = [it['data_samples'] for it in items]
        with torch.no_grad():
            _, counts = model.predict_expressions(load, len(frames), samples,
                                                  lambda *a: None)
            totals['side by side'] += counts['trunk_frames']
            for sample in samples:
                _, counts = model.predict_expressions(load, len(frames), [sample],
                                                      lambda *a: None)
                totals['one at a time'] += counts['trunk_frames']
    print(f'{len(videos)} videos, {expressions} expressions, oracle grounding, cache '
          f'{model.shared_cache_frames} frames')
    for name, total in totals.items():
        print(f'{name:>14}: {total / expressions:7.1f} image-encoder passes per expression')
    print(f'ratio side by side / one at a time: '
          f'{totals["side by side"] / totals["one at a time"]:.3f}')


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == '_child':
        child(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == '_test_child':
        batch, root, size, arch, work_dir = sys.argv[2:7]
        test_child(int(batch), root, int(size), arch, work_dir)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=['memory', 'sharing', 'test'])
    parser.add_argument('--lengths', type=int, nargs='+', default=[100, 200, 500, 1000, 2000])
    parser.add_argument('--whole-max', type=int, default=500)
    parser.add_argument('--sam2-max', type=int, default=2000,
                        help='longest video given to sam2 (0: none)')
    parser.add_argument('--tmp-dir', default='work_dirs/bench_streaming')
    parser.add_argument('--data-root', default='data/synthetic_mevis_m')
    parser.add_argument('--videos', type=int, default=3)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--arch', default='sam2.1_hiera_b+')
    args = parser.parse_args()
    dict(memory=bench_memory, sharing=bench_sharing, test=bench_test)[args.what](args)


if __name__ == '__main__':
    main()
