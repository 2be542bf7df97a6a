"""Class-agnostic tracking clips for stage 0: SAM2-style video object segmentation, no text.

Every sample is a clip rendered in memory from a random synthetic MeViS-M scene (both scene kinds:
drifting look-alikes with transient events, scripted motions with distractors): ``T`` consecutive
frames, a target object visible in the first one (whose mask is the prompt) and the masks of every
object (for :class:`~tgl_mm.models.losses.MemoryCorrespondenceLoss`). Nothing is read from disk;
sample ``i`` is a pure function of ``(seed, i)``, so any worker, rank or resumed run sees the same
clip for the same index.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from tgl_mm.registry import DATASETS
from tgl_mm.structures import VideoDataSample

from .scene import random_video

#: fewest visible pixels (at the model size) of the prompted object on the first clip frame
MIN_PROMPT_PIXELS = 12


def pad_to_square(frames: np.ndarray, masks: np.ndarray, size: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Zero-pad frames (T, h, w, 3) and masks (N, T, h, w) bottom/right to ``size x size``, as
    :class:`~tgl_mm.datasets.transforms.VideoResizePad` pads model inputs."""
    t, h, w = frames.shape[:3]
    if h > size or w > size:
        raise ValueError(f'frames {h}x{w} do not fit in {size}x{size}')
    out = np.zeros((t, size, size, 3), dtype=frames.dtype)
    out[:, :h, :w] = frames
    out_masks = np.zeros((masks.shape[0], t, size, size), dtype=bool)
    out_masks[:, :, :h, :w] = masks
    return out, out_masks


@DATASETS.register_module()
class SyntheticTrackingDataset(Dataset):
    """Random tracking clips at the model's input size (see the module docstring).

    Each item is ``dict(inputs=uint8 (T, 3, S, S), data_samples=VideoDataSample)`` with
    ``gt_masks`` bool (T, S, S) (the target; frame 0 is its prompt), ``gt_object_masks`` bool
    (N, T, S, S) (every object, target included) and metainfo ``video_id``, ``target``,
    ``img_shape``, ``ori_shape``.

    Args:
        size: S, the square model input; frames are rendered ``S x S / aspect`` and zero-padded.
        num_frames: T, frames per clip.
        video_frames: (min, max) length of the rendered scene the clip is cut from.
        num_samples: length of an epoch (items are generated, so any number works).
        aspect: width / height of the rendered frames (synthetic MeViS-M: 4/3).
        seed: base seed; item ``i`` depends only on ``(seed, i)``.
        kind: scene kind (``'event'``, ``'motion'``) or None for both.
    """

    def __init__(self, size: int = 128, num_frames: int = 4,
                 video_frames: tuple[int, int] = (20, 28), num_samples: int = 100_000,
                 aspect: float = 4 / 3, seed: int = 0, kind: str | None = None) -> None:
        if num_frames < 2:
            raise ValueError(f'num_frames must be >= 2 (a prompt and a frame to track), got '
                             f'{num_frames}')
        if not num_frames <= video_frames[0] <= video_frames[1]:
            raise ValueError(f'video_frames {video_frames} must be a range >= num_frames '
                             f'({num_frames})')
        self.size = size
        self.num_frames = num_frames
        self.video_frames = tuple(video_frames)
        self.num_samples = num_samples
        self.width, self.height = size, round(size / aspect)
        self.seed = seed
        self.kind = kind
        # mmengine's Runner reads a dataset's metainfo for the visualizer
        self.metainfo = dict(dataset_name='synthetic_tracking')

    def __len__(self) -> int:
        return self.num_samples

    def clip(self, index: int) -> tuple[np.ndarray, np.ndarray, int, str]:
        """Frames uint8 (T, S, S, 3), object masks bool (N, T, S, S), the target's index and the
        video id of item ``index``."""
        for attempt in range(100):
            rng = np.random.default_rng([self.seed, index, attempt])
            length = int(rng.integers(self.video_frames[0], self.video_frames[1] + 1))
            _, frames, masks = random_video(rng, self.width, self.height, length, kind=self.kind)
            start = int(rng.integers(0, length - self.num_frames + 1))
            window = slice(start, start + self.num_frames)
            frames, masks = pad_to_square(frames[window], masks[:, window], self.size)
            visible = np.flatnonzero(masks[:, 0].sum((1, 2)) >= MIN_PROMPT_PIXELS)
            if visible.size:
                target = int(visible[rng.integers(visible.size)])
                return frames, masks, target, f'synthetic_{self.seed}_{index}_{attempt}'
        raise RuntimeError(f'no clip with a visible object for item {index} (seed {self.seed})')

    def __getitem__(self, index: int) -> dict:
        frames, masks, target, video_id = self.clip(index)
        sample = VideoDataSample(metainfo=dict(
            video_id=video_id, target=target, img_shape=(self.height, self.width),
            ori_shape=(self.height, self.width), pad_shape=(self.size, self.size)))
        sample.gt_masks = torch.from_numpy(masks[target])
        sample.gt_object_masks = torch.from_numpy(masks)
        inputs = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
        return dict(inputs=inputs, data_samples=sample)
