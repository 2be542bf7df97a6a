"""Data-loading benchmark on the synthetic MeViS-M set: clips/s and per-worker memory.

Three loaders run side by side on the same expressions, sampler and transforms:

- ``tgl_mm``: ``MeViSDataset`` as configured (mmengine serialization; each anno_id's RLEs once in
  a flat numpy store; only the sampled frames' JPEGs and RLEs are decoded);
- ``tgl_mm, no serialization``: the same with ``serialize_data=False`` (Python objects);
- ``naive``: a plain list of per-expression dicts carrying their own copies of the mask_dict
  entries, decoding every frame and mask of the video, then picking the clip.

Per-worker memory is read from ``/proc/self/smaps_rollup`` inside the workers (USS = private
pages, PSS = proportional share). ``--replicate K`` copies the split K times (symlinked frames,
renamed videos and anno_ids) to approach MeViS train's 23k expressions.

Example:
    python benchmarks/bench_dataset.py --clips 400 --workers 2 --replicate 20
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader, Dataset

from tgl_mm.datasets import MeViSDataset
from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
from tgl_mm.formats import decode_rle, load_mask_dict, load_meta_expressions, load_moments, read_rgb


def pipeline_cfg(num_frames: int, img_size: int, load: bool = True) -> list[dict]:
    head = [dict(type='MomentAwareFrameSampler', num_frames=num_frames)]
    loading = [dict(type='LoadVideoFrames'), dict(type='LoadExpressionMasks', per_object=True)]
    tail = [dict(type='ObjectSelectiveSupervision'), dict(type='VideoResizePad', size=img_size),
            dict(type='VideoRandomFlip', prob=0.5), dict(type='VideoColorJitter'),
            dict(type='PackVideoInputs')]
    return head + (loading if load else []) + tail


def memory_kib() -> tuple[int, int]:
    """(USS, PSS) of this process in KiB."""
    fields = {}
    with open('/proc/self/smaps_rollup') as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(':')] = int(parts[1])
    uss = fields.get('Private_Clean', 0) + fields.get('Private_Dirty', 0)
    return uss, fields.get('Pss', 0)


class MemoryProbe(Dataset):
    """Wraps a dataset; each worker records its peak USS/PSS into a shared array."""

    def __init__(self, dataset, shared) -> None:
        self.dataset, self.shared = dataset, shared

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx):
        out = self.dataset[idx]
        info = torch.utils.data.get_worker_info()
        wid = 0 if info is None else info.id
        uss, pss = memory_kib()
        self.shared[2 * wid] = max(self.shared[2 * wid], uss)
        self.shared[2 * wid + 1] = max(self.shared[2 * wid + 1], pss)
        return out


class NaiveMeViS(Dataset):
    """The straightforward loader: per-expression dicts holding their masks' RLE lists; every
    frame and mask of the video decoded per sample."""

    def __init__(self, data_root: str, split: str, moment_file: str, num_frames: int,
                 img_size: int) -> None:
        split_dir = os.path.join(data_root, split)
        videos = load_meta_expressions(os.path.join(split_dir, 'meta_expressions.json'))
        mask_dict = load_mask_dict(os.path.join(split_dir, 'mask_dict.json'))
        moments = load_moments(os.path.join(data_root, moment_file)).moments
        self.items = []
        for vid, v in videos.items():
            for e in v.expressions.values():
                m = moments[vid][e.exp_id]
                self.items.append(dict(
                    video_id=vid, exp_id=e.exp_id, text=e.text, frames=list(v.frames),
                    frame_dir=os.path.join(split_dir, 'JPEGImages', vid),
                    obj_ids=list(e.obj_ids),
                    masks=[json.loads(json.dumps(mask_dict[a])) for a in e.anno_ids],
                    obj_moments=[list(s) for s in m.object_spans(e.obj_ids)],
                    mplus_spans=list(m.mplus_spans())))
        init_default_scope('tgl_mm')
        self.sampler = Compose(pipeline_cfg(num_frames, img_size)[:1])
        self.tail = Compose(pipeline_cfg(num_frames, img_size, load=False)[1:])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx):
        it = self.items[idx]
        n = len(it['frames'])
        frames = np.stack([read_rgb(os.path.join(it['frame_dir'], f + '.jpg'), {})
                           for f in it['frames']])
        size = frames.shape[1:3]
        obj = np.stack([np.stack([decode_rle(r, expected_size=size) if r is not None
                                  else np.zeros(size, bool) for r in track])
                        for track in it['masks']])
        res = dict(num_video_frames=n, obj_moments=it['obj_moments'],
                   mplus_spans=it['mplus_spans'])
        res = self.sampler(res)
        inds = res['frame_inds']
        res.update(frames=frames[inds], gt_obj_masks=obj[:, inds], ori_shape=size,
                   img_shape=size, video_id=it['video_id'], exp_id=it['exp_id'],
                   text=it['text'], dataset_name='mevis', split='train',
                   frame_names=it['frames'], num_video_frames=n, obj_ids=it['obj_ids'])
        return self.tail(res)


def replicate_split(src_root: Path, dst_root: Path, split: str, k: int) -> None:
    """Copy the split ``k`` times (frames symlinked; videos and anno_ids renamed)."""
    meta = json.loads((src_root / split / 'meta_expressions.json').read_text())['videos']
    masks = json.loads((src_root / split / 'mask_dict.json').read_text())
    moments = json.loads((src_root / 'moments' / f'{split}.json').read_text())
    out_meta, out_masks, out_mom = {}, {}, dict(moments, videos={})
    (dst_root / split / 'JPEGImages').mkdir(parents=True)
    for r in range(k):
        for vid, v in meta.items():
            new = f'{vid}_r{r}'
            os.symlink((src_root / split / 'JPEGImages' / vid).resolve(),
                       dst_root / split / 'JPEGImages' / new)
            exps = {}
            for e, x in v['expressions'].items():
                ids = [f'{a}_r{r}' for a in x['anno_id']]
                for a, a_new in zip(x['anno_id'], ids):
                    out_masks[a_new] = masks[a]
                exps[e] = dict(x, anno_id=ids)
            out_meta[new] = dict(v, expressions=exps)
            out_mom['videos'][new] = moments['videos'][vid]
    (dst_root / split / 'meta_expressions.json').write_text(json.dumps({'videos': out_meta}))
    (dst_root / split / 'mask_dict.json').write_text(json.dumps(out_masks))
    (dst_root / 'moments').mkdir()
    (dst_root / 'moments' / f'{split}.json').write_text(json.dumps(out_mom))


def run(name: str, dataset, clips: int, workers: int, batch: int) -> dict:
    shared = mp.Array('d', 2 * max(1, workers), lock=False)
    probe = MemoryProbe(dataset, shared)
    sampler = torch.utils.data.RandomSampler(probe, replacement=True, num_samples=clips)
    loader = DataLoader(probe, batch_size=batch, sampler=sampler, num_workers=workers,
                        collate_fn=pseudo_collate,
                        worker_init_fn=lambda _: torch.set_num_threads(1))
    it = iter(loader)
    first = next(it)                         # exclude worker start-up
    n = len(first['inputs'])
    t0 = time.perf_counter()
    for b in it:
        n += len(b['inputs'])
    dt = time.perf_counter() - t0
    n_timed = n - len(first['inputs'])
    vals = np.frombuffer(shared, dtype=np.float64).reshape(-1, 2)
    return dict(name=name, clips_per_s=n_timed / dt, uss_mib=vals[:, 0].mean() / 1024,
                pss_mib=vals[:, 1].mean() / 1024, clips=n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default='data/synthetic_mevis_m',
                   help='synthetic MeViS-M root (generated into a temp dir if missing)')
    p.add_argument('--clips', type=int, default=400)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--num-frames', type=int, default=4)
    p.add_argument('--img-size', type=int, default=128)
    p.add_argument('--gen-size', type=int, default=None,
                   help='generate a temporary set with this longer frame side instead '
                        '(e.g. 640 to approach MeViS resolution)')
    p.add_argument('--gen-frames', type=int, nargs=2, default=None, metavar=('MIN', 'MAX'),
                   help='frames per video of the generated set (e.g. 60 80 as MeViS)')
    p.add_argument('--rounds', type=int, default=2, help='interleaved repetitions')
    p.add_argument('--replicate', type=int, default=20,
                   help='copies of the split (more expressions, same frames)')
    args = p.parse_args()
    init_default_scope('tgl_mm')
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix='bench_dataset_'))
    try:
        root = Path(args.data_root)
        if args.gen_size or not (root / 'train' / 'meta_expressions.json').is_file():
            root = tmp / 'synthetic_mevis_m'
            gen = dict(size=args.gen_size) if args.gen_size else {}
            if args.gen_frames:
                gen.update(min_frames=args.gen_frames[0], max_frames=args.gen_frames[1])
            make_synthetic_mevis_m(root, progress=False, log=None, num_valid_u=1, num_valid=1,
                                   **gen)
        if args.replicate > 1:
            rep = tmp / 'replicated'
            replicate_split(root, rep, 'train', args.replicate)
            root = rep
        for f in (root / 'train' / 'JPEGImages').rglob('*.jpg'):   # warm the page cache
            f.read_bytes()
        pipe = pipeline_cfg(args.num_frames, args.img_size)
        loaders = {
            'tgl_mm': lambda: MeViSDataset(str(root), 'train', pipe,
                                           moment_file='moments/train.json'),
            'tgl_mm, no serialization': lambda: MeViSDataset(
                str(root), 'train', pipe, moment_file='moments/train.json',
                serialize_data=False),
            'naive (whole video, per-sample RLE copies)': lambda: NaiveMeViS(
                str(root), 'train', 'moments/train.json', args.num_frames, args.img_size),
        }
        best: dict[str, dict] = {}
        for _ in range(args.rounds):      # interleaved rounds; best speed, peak memory
            for name, build in loaders.items():
                ds = build()
                n_exp = len(ds)
                r = run(name, ds, args.clips, args.workers, args.batch_size)
                del ds
                b = best.setdefault(name, r)
                b['clips_per_s'] = max(b['clips_per_s'], r['clips_per_s'])
                b['uss_mib'] = max(b['uss_mib'], r['uss_mib'])
                b['pss_mib'] = max(b['pss_mib'], r['pss_mib'])
        results = list(best.values())
        first = next((root / 'train' / 'JPEGImages').iterdir())
        import cv2
        h, w = cv2.imread(str(next(first.iterdir()))).shape[:2]
        n_fr = len(list(first.iterdir()))
        frame_desc = f'{w}x{h} px, e.g. {n_fr} frames per video'
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'synthetic MeViS-M train x{args.replicate} ({frame_desc}): {n_exp} expressions; '
          f'T={args.num_frames}, '
          f'S={args.img_size}, {args.workers} workers, batch {args.batch_size}, '
          f'{args.clips} clips per loader')
    print(f'{"loader":45s} {"clips/s":>8s} {"worker USS MiB":>15s} {"worker PSS MiB":>15s}')
    for r in results:
        print(f'{r["name"]:45s} {r["clips_per_s"]:8.1f} {r["uss_mib"]:15.1f} '
              f'{r["pss_mib"]:15.1f}')
    o, u, nv = results
    print(f'speed: tgl_mm / naive = {o["clips_per_s"] / nv["clips_per_s"]:.2f}x; '
          f'per-worker USS: naive / tgl_mm = {nv["uss_mib"] / o["uss_mib"]:.2f}x, '
          f'unserialized / tgl_mm = {u["uss_mib"] / o["uss_mib"]:.2f}x')


if __name__ == '__main__':
    main()
