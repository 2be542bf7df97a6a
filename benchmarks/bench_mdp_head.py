"""MDP head + SAM2 image encoder speed, side by side with sam2's own code on the same weights.

* ``train``: forward + backward of a training batch (B clips of T frames): our
  ``SAM2ImageEncoder`` + ``MDPHead`` against sam2's training-style loop (``forward_image`` +
  ``SAM2Base.track_step`` per frame, frame 0 as the conditioning frame), every frame in M+ so both
  do the same work; also ours with half the frames in M- (the MDP setting: fewer memory writes).
* ``infer``: a whole video, eval mode, mask on frame 0: our ``iter_video`` (features encoded one
  frame at a time, bounded memory bank) against ``SAM2VideoPredictor.add_new_mask`` +
  ``propagate_in_video``. Also the largest number of memories held.

Repetitions are interleaved; the best time of each is reported with the ratio ours / sam2.

Usage::

    python benchmarks/bench_mdp_head.py [--arch tiny] [--size 128] [--batch 2] [--frames 8]
        [--video-frames 48] [--repeats 5] [--threads 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from functools import partialmethod
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_video_predictor import SAM2VideoPredictor
from tqdm import tqdm

from tgl_mm.models.backbones.sam2_image_encoder import SAM2ImageEncoder
from tgl_mm.models.heads.mdp_head import MDPHead
from tgl_mm.models.utils.sam2_checkpoint import load_sam2_part
from tgl_mm.models.utils.sam2_settings import build_sam2_model, get_sam2_settings


def build(settings: dict, cls: type[SAM2Base] = SAM2Base, **kwargs):
    """A sam2 model and our encoder + head holding the same weights."""
    torch.manual_seed(0)
    sam = build_sam2_model(settings, cls=cls, **kwargs)
    sd = sam.state_dict()
    encoder = SAM2ImageEncoder(arch=settings)
    load_sam2_part(encoder.encoder, sd, 'image_encoder.', part='image encoder')
    head = MDPHead(arch=settings, multimask_output=True)
    load_sam2_part(head, sd, '', part='MDP head', exclude=('image_encoder.',),
                   target_prefix='sam2.')
    for p in sam.image_encoder.parameters():  # frozen in both
        p.requires_grad_(False)
    return sam, encoder, head


def loss_of(mask_logits: torch.Tensor) -> torch.Tensor:
    target = torch.zeros_like(mask_logits)
    target[..., : mask_logits.shape[-2] // 2, :] = 1
    return F.binary_cross_entropy_with_logits(mask_logits, target)


def train_ours(encoder, head, images, mplus) -> None:
    feats = encoder(images.flatten(0, 1))
    out = head(feats, mplus)
    loss_of(out['mask_logits']).backward()


def train_sam2(sam, images) -> None:
    losses = []
    for video in images:
        out_dict = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
        for t in range(video.shape[0]):
            backbone = sam.forward_image(video[t:t + 1])
            _, vision, pos, sizes = sam._prepare_backbone_features(backbone)
            cur = sam.track_step(frame_idx=t, is_init_cond_frame=t == 0,
                                 current_vision_feats=vision, current_vision_pos_embeds=pos,
                                 feat_sizes=sizes, point_inputs=None, mask_inputs=None,
                                 output_dict=out_dict, num_frames=video.shape[0])
            out_dict['cond_frame_outputs' if t == 0 else 'non_cond_frame_outputs'][t] = cur
            losses.append(loss_of(cur['pred_masks']))
    torch.stack(losses).mean().backward()


def bench(fns: dict, repeats: int) -> dict[str, float]:
    best = {name: float('inf') for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def write_frames(folder: Path, frames: np.ndarray) -> None:
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f'{t:05d}.jpg', quality=95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='tiny')
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--video-frames', type=int, default=48)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # sam2's bars would be timed too
    settings = get_sam2_settings(args.arch, image_size=args.size)

    # --- training step ---------------------------------------------------------------------------
    sam, encoder, head = build(settings)
    sam.train()
    head.train()
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, args.frames, 3, args.size, args.size, generator=gen)
    all_plus = torch.ones(args.batch, args.frames, dtype=torch.bool)
    half = all_plus.clone()
    half[:, 1::2] = False
    times = bench({
        'sam2 track_step loop': lambda: train_sam2(sam, images),
        'ours, all M+': lambda: train_ours(encoder, head, images, all_plus),
        'ours, half M-': lambda: train_ours(encoder, head, images, half),
    }, args.repeats)
    n_head = sum(p.numel() for p in head.parameters()) / 1e6
    n_enc = sum(p.numel() for p in encoder.parameters()) / 1e6
    print(f'arch {args.arch} @ {args.size} px: image encoder {n_enc:.2f}M (frozen), '
          f'MDP head {n_head:.2f}M parameters, {args.threads} threads')
    print(f'\ntraining step (forward + backward), batch {args.batch} x {args.frames} frames:')
    ref = times['sam2 track_step loop']
    for name, sec in times.items():
        print(f'  {name:24s} {sec:7.3f} s   ratio vs sam2 {sec / ref:5.2f}')

    # --- whole-video inference -------------------------------------------------------------------
    predictor, encoder, head = build(settings, cls=SAM2VideoPredictor, fill_hole_area=0)
    predictor.eval()
    head.eval()
    num = args.video_frames
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, size=(num, 12, 16, 3), dtype=np.uint8)
    frames = np.stack([np.asarray(Image.fromarray(f).resize((160, 120), Image.BILINEAR))
                       for f in small])
    mask = np.zeros((120, 160), bool)
    mask[30:90, 40:120] = True
    with tempfile.TemporaryDirectory() as tmp:
        write_frames(Path(tmp), frames)
        state = predictor.init_state(tmp)
    imgs = state['images']
    largest = {}

    def run_sam2() -> None:
        predictor.reset_state(state)
        predictor.add_new_mask(state, frame_idx=0, obj_id=1, mask=mask)
        for _ in predictor.propagate_in_video(state):
            pass
        out = state['output_dict_per_obj'][0]
        largest['sam2'] = len(out['cond_frame_outputs']) + len(out['non_cond_frame_outputs'])

    def run_ours(mplus: torch.Tensor, key: str) -> None:
        with torch.no_grad():
            for _ in head.iter_video(lambda t: encoder(imgs[t:t + 1]), mplus,
                                     mask_inputs={0: torch.from_numpy(mask)}):
                pass
        held, most = set(), 0
        for step in head.plan(mplus, mask_frames=[0]):
            held |= {step.frame} if step.write else set()
            most = max(most, len(held))
            held -= set(step.release)
        largest[key] = most

    sparse = torch.zeros(num, dtype=torch.bool)
    sparse[: num // 4] = True  # M+ = the first quarter of the video
    times = bench({
        'sam2 propagate_in_video': run_sam2,
        'ours, all M+': lambda: run_ours(torch.ones(num, dtype=torch.bool), 'ours, all M+'),
        'ours, M+ = first 25 %': lambda: run_ours(sparse, 'ours, M+ = first 25 %'),
    }, args.repeats)
    print(f'\nwhole-video inference, {num} frames, mask on frame 0 (frames encoded one by one):')
    ref = times['sam2 propagate_in_video']
    for name, sec in times.items():
        key = 'sam2' if name.startswith('sam2') else name
        print(f'  {name:24s} {sec:7.3f} s   ratio vs sam2 {sec / ref:5.2f}   '
              f'memories held at most: {largest[key]}')


if __name__ == '__main__':
    main()
