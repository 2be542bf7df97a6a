"""Stage-0 tracking beside sam2's own ``SAM2VideoPredictor`` on the same weights, in one run.

Every object of synthetic ``valid_u`` (``MeViSObjectTracks``, the stage-0 test set) is tracked
from its ground-truth mask on its first visible frame; J, F and J&F are over the later frames
(:func:`~tgl_mm.evaluation.metrics.tracking_scores`, as ``TrackingMetric`` in
``tools/test.py configs/tgl/stage0_tiny_sam2_synthetic.py``). Methods, track by track:

* ``ours``: :class:`~tgl_mm.models.segmentors.SAM2Pretrainer` built with
  ``checkpoint=`` the ``.pt`` (frames resized keeping the ratio and padded bottom/right to
  S x S; masks cropped back), :meth:`SAM2Pretrainer.predict_video`;
* ``sam2``: ``sam2.sam2_video_predictor.SAM2VideoPredictor`` built from the same component
  modules and ``SAM2Base`` arguments as our head
  (:func:`~tgl_mm.models.utils.sam2_settings.build_sam2_model`, the ``tiny`` settings,
  ``image_size`` 128), the same state dict loaded, on CPU, with single-mask output
  (``multimask_output_in_sam=False``: our head's ``multimask_output=False``, the setting stage 0
  trains), used as its users do: ``init_state`` on the video's JPEG folder (sam2 resizes every
  frame to a square, *without* padding: the aspect ratio changes), ``add_new_mask`` on the first
  visible frame (the mask at the video size), ``propagate_in_video`` from there; its own
  video-size masks;
* ``sam2, from the prompt frame``: the same, but the video given to sam2 starts at the prompt
  frame, as :meth:`SAM2Pretrainer.predict_video` gives our head ``frames[start:]``. The video
  length matters: sam2 reads up to ``min(num_frames, 16) - 1`` object pointers and (SAM2.1)
  scales their temporal encoding by that number;
* ``sam2, our frames``: from the prompt frame, ``state['images']`` replaced by our padded,
  normalised frames and the prompt by our padded prompt mask; the low-res logits are
  post-processed like ours: exactly our model's input, so this should equal ``ours``;
* ``sam2, our frames, whole video``: our frames and prompt, the whole video;
* ``sam2, multimask``: as ``sam2`` but with the yaml's ``multimask_output_in_sam=True`` (SAM2's
  default: three masks per tracked frame, the one with the highest predicted IoU kept). Stage 0
  trains neither the extra mask tokens nor the IoU head, so this shows what the default
  setting does with these weights;
* ``copy the prompt``: the prompt mask on every later frame.

frames/s counts the tracked frames (after the prompt) per second of tracking (model calls from
prompt to the last frame; decoding and normalising the frames are not timed for any method);
the methods run interleaved, track by track, in one process.

Usage::

    python benchmarks/bench_stage0_tracking.py [--checkpoint FILE.pt]
        [--data-root data/synthetic_mevis_m] [--split valid_u] [--max-tracks N] [--threads 1]

(default checkpoint: the shipped ``checkpoints/tiny_sam2_stage0_synthetic.pt``)
"""
from __future__ import annotations

import argparse
import time
from functools import partialmethod
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from sam2.sam2_video_predictor import SAM2VideoPredictor
from tqdm import tqdm

from tgl_mm.evaluation.metrics import tracking_scores
from tgl_mm.models.heads.mdp_head import postprocess_mask_logits
from tgl_mm.models.segmentors import SAM2Pretrainer
from tgl_mm.models.segmentors.sam2_pretrainer import first_visible_frame, prompt_mask
from tgl_mm.models.utils.sam2_checkpoint import file_sha256, load_sam2_state_dict
from tgl_mm.models.utils.sam2_settings import build_sam2_model, get_sam2_settings
from tgl_mm.registry import DATASETS, MODELS
from tgl_mm.structures import VideoDataSample
from tgl_mm.utils import register_all_modules

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/tgl/stage0_tiny_sam2_synthetic.py'
METHODS = ('ours', 'sam2', 'sam2, from the prompt frame', 'sam2, our frames',
           'sam2, our frames, whole video', 'sam2, multimask', 'copy the prompt')

class Tracker:
    """One method: :meth:`prepare` (not timed: decoding, state) then :meth:`track` (timed)."""

    def prepare(self, sample: VideoDataSample, frames: torch.Tensor, start: int) -> None:
        """Args: the track's sample (``gt_masks`` (T, H, W)), our normalised padded frames
        (T, 3, S, S), its prompt frame."""
        self.sample, self.frames, self.start = sample, frames, start

    def track(self) -> np.ndarray:
        """Bool masks (T, H, W) at the original size (frames up to the prompt: not scored)."""
        raise NotImplementedError


def build_ours(checkpoint: str, size: int) -> SAM2Pretrainer:
    """Our stage-0 model (image encoder + MDP head as in the stage-0 config) from the .pt."""
    cfg = Config.fromfile(CONFIG)
    model = cfg.model
    model.image_backbone.update(checkpoint=checkpoint, image_size=size)
    model.head.update(checkpoint=checkpoint, image_size=size)
    model.pop('correspondence_loss', None)
    return MODELS.build(model).eval()


def build_sam2_predictor(checkpoint: str, size: int, multimask: bool) -> SAM2VideoPredictor:
    """sam2's video predictor with our ``tiny`` modules and SAM2Base arguments (those the MDP
    head builds its ``SAM2Base`` with), holding the same state dict (strict load);
    ``multimask`` sets ``multimask_output_in_sam``."""
    settings = get_sam2_settings('tiny', image_size=size,
                                 overrides=dict(model=dict(multimask_output_in_sam=multimask)))
    predictor = build_sam2_model(settings, cls=SAM2VideoPredictor)
    predictor.load_state_dict(load_sam2_state_dict(checkpoint), strict=True)
    return predictor.eval()


class Sam2Runner(Tracker):
    """sam2's ``SAM2VideoPredictor`` on one track (see the module doc for the variants).

    Args:
        predictor: the predictor.
        our_frames: give it our padded frames and prompt instead of its JPEG loading.
        from_prompt: the video starts at the prompt frame (else the whole video).
    """

    def __init__(self, predictor: SAM2VideoPredictor, our_frames: bool,
                 from_prompt: bool) -> None:
        self.predictor = predictor
        self.our_frames = our_frames
        self.from_prompt = from_prompt

    def prepare(self, sample: VideoDataSample, frames: torch.Tensor, start: int) -> None:
        super().prepare(sample, frames, start)
        state = self.predictor.init_state(sample.metainfo['frame_dir'])
        if self.our_frames:
            size = frames.shape[-1]
            state.update(images=frames.float(), video_height=size, video_width=size)
        self.first = start if self.from_prompt else 0
        state['images'] = state['images'][self.first:]
        state['num_frames'] = len(state['images'])
        state['cached_features'] = {}   # init_state cached frame 0 of its own images
        self.state = state

    def track(self) -> np.ndarray:
        meta, gt, start, size = self.sample.metainfo, self.sample.gt_masks, self.start, \
            self.frames.shape[-1]
        state, prompt_idx = self.state, self.start - self.first
        prompt = prompt_mask(gt[start], meta['img_shape'], size) if self.our_frames \
            else gt[start]
        masks = torch.zeros((len(gt), *meta['ori_shape']), dtype=torch.bool)
        self.predictor.add_new_mask(state, frame_idx=prompt_idx, obj_id=1, mask=prompt)
        outputs = state['output_dict_per_obj'][0]['non_cond_frame_outputs']
        for t, _, video_logits in self.predictor.propagate_in_video(
                state, start_frame_idx=prompt_idx):
            if t == prompt_idx:
                continue
            if self.our_frames:
                low = outputs[t]['pred_masks'].float()
                logits = postprocess_mask_logits(low, size, meta['img_shape'],
                                                 meta['ori_shape'])[0]
            else:
                logits = video_logits[0, 0]
            masks[t + self.first] = logits > 0
        return masks.numpy()


class Ours(Tracker):
    def __init__(self, model: SAM2Pretrainer) -> None:
        self.model = model

    def track(self) -> np.ndarray:
        out = self.model.predict_video(self.frames, self.sample.clone())
        assert out.metainfo['prompt_frame'] == self.start
        return out.pred_masks.numpy()


class CopyPrompt(Tracker):
    def track(self) -> np.ndarray:
        gt = self.sample.gt_masks.numpy()
        return np.broadcast_to(gt[self.start], gt.shape).copy()


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', default=str(REPO / 'checkpoints/'
                                                    'tiny_sam2_stage0_synthetic.pt'))
    parser.add_argument('--data-root', default='data/synthetic_mevis_m')
    parser.add_argument('--split', default='valid_u')
    parser.add_argument('--max-tracks', type=int, default=None)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # sam2's bars would be timed too
    register_all_modules()

    cfg = Config.fromfile(CONFIG)
    size = cfg.img_size
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=args.data_root,
                                  split=args.split))
    ours = build_ours(args.checkpoint, size)
    single = build_sam2_predictor(args.checkpoint, size, multimask=ours.head.multimask_output)
    multi = build_sam2_predictor(args.checkpoint, size, multimask=True)
    trackers: dict[str, Tracker] = {
        'ours': Ours(ours),
        'sam2': Sam2Runner(single, our_frames=False, from_prompt=False),
        'sam2, from the prompt frame': Sam2Runner(single, our_frames=False, from_prompt=True),
        'sam2, our frames': Sam2Runner(single, our_frames=True, from_prompt=True),
        'sam2, our frames, whole video': Sam2Runner(single, our_frames=True, from_prompt=False),
        'sam2, multimask': Sam2Runner(multi, our_frames=False, from_prompt=False),
        'copy the prompt': CopyPrompt(),
    }
    scores: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    seconds = dict.fromkeys(METHODS, 0.0)
    tracked_frames = 0
    num = len(dataset) if args.max_tracks is None else min(args.max_tracks, len(dataset))
    with torch.no_grad():
        for i in range(num):
            item = dataset[i]
            sample = item['data_samples']
            start = first_visible_frame(sample.gt_masks)
            if start is None or start + 1 >= len(sample.gt_masks):
                continue
            frames = ours.data_preprocessor.normalize(item['inputs'])
            gt = sample.gt_masks.numpy()
            tracked_frames += len(gt) - start - 1
            for method, tracker in trackers.items():
                tracker.prepare(sample, frames, start)
                tic = time.perf_counter()
                pred = tracker.track()
                seconds[method] += time.perf_counter() - tic
                scores[method].append(tracking_scores(pred, gt, start))

    tracks = len(scores['ours'])
    print(f'{args.split} of {args.data_root}: {tracks} tracks, {tracked_frames} tracked frames; '
          f'weights {Path(args.checkpoint).name} (sha256 {file_sha256(args.checkpoint)[:12]}); '
          f'{args.threads} thread(s)')
    print('sam2 = SAM2VideoPredictor (sam2 package) on the same state dict, single-mask output '
          'as trained, whole video; it resizes frames to a square without padding, ours pad '
          'bottom/right; "our frames": our padded frames and prompt; "from the prompt frame": '
          'the video starts there, as ours; "multimask": SAM2\'s default multimask tracking')
    table = {}
    print('| method | J&F | J | F | frames/s |\n|---|---|---|---|---|')
    for method in METHODS:
        mean = {k: float(np.mean([s[k] for s in scores[method]])) for k in ('J&F', 'J', 'F')}
        fps = tracked_frames / seconds[method] if method != 'copy the prompt' else float('nan')
        table[method] = dict(mean, fps=fps)
        fps_cell = '–' if method == 'copy the prompt' else f'{fps:.0f}'
        print(f'| {method} | {mean["J&F"]:.1f} | {mean["J"]:.1f} | {mean["F"]:.1f} | '
              f'{fps_cell} |')
    print(f'frames/s ours / sam2: {table["ours"]["fps"] / table["sam2"]["fps"]:.2f}')
    return table


if __name__ == '__main__':
    main()
