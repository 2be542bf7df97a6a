"""Normalise and stack video clips for the model."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from tgl_mm.registry import MODELS
from tgl_mm.structures import VideoDataSample

# SAM2's image normalisation (ImageNet statistics on a 0-255 scale).
SAM2_MEAN = (123.675, 116.28, 103.53)
SAM2_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class VideoDataPreprocessor(BaseDataPreprocessor):
    """Stack ``uint8`` clips ``(T, 3, S, S)`` into a normalised float batch ``(B, T, 3, S, S)``.

    All clips of a batch must have the same ``T`` and ``S`` (the pipeline resizes and pads every
    frame to ``S x S``; training clips all have the sampler's ``T``; test batches hold one video).

    Args:
        mean: per-channel mean (RGB, 0-255 scale). Defaults to SAM2's.
        std: per-channel std (RGB, 0-255 scale). Defaults to SAM2's.
        non_blocking: passed to ``Tensor.to`` when moving to the device.
    """

    def __init__(self,
                 mean: Sequence[float] = SAM2_MEAN,
                 std: Sequence[float] = SAM2_STD,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values (RGB), got {mean} and {std}')
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 1, 3, 1, 1),
                             persistent=False)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """``(..., 3, S, S)`` uint8 (or float 0-255) frames -> float32 normalised, on the device.

        Test-time inference calls this chunk by chunk, so a whole video is never held as float.
        """
        frames = frames.to(self.device, non_blocking=self._non_blocking)
        shape = (3, 1, 1)
        return (frames.float() - self.mean.view(shape)) / self.std.view(shape)

    def collate(self, data: dict) -> torch.Tensor:
        """Stack ``data['inputs']`` (list of (T, 3, S, S) clips, or a (B, T, 3, S, S) tensor)
        into (B, T, 3, S, S), as they are (no normalisation, no device move)."""
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs) if inputs.dim() == 5 else [inputs]
        shapes = {tuple(x.shape) for x in inputs}
        if len(shapes) != 1:
            raise ValueError(f'all clips of a batch must share (T, 3, S, S); got shapes {shapes}')
        shape = shapes.pop()
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(f'each clip must be (T, 3, S, S) RGB, got {shape}')
        return torch.stack(list(inputs))

    def forward(self, data: dict, training: bool = False) -> dict:
        """Args:
            data: ``dict(inputs=list[uint8 Tensor (T, 3, S, S)],
                data_samples=list[VideoDataSample])``
            training: in training mode the data samples (targets) move to the device too; at test
                time they stay where they are (full-resolution ground truth is only read by the
                metric, on the CPU).

        Returns:
            ``dict(inputs=float Tensor (B, T, 3, S, S), data_samples=list[VideoDataSample])``.
        """
        batch = self.normalize(self.collate(data))
        samples: list[VideoDataSample] = data.get('data_samples') or []
        if training:
            samples = self.cast_data(samples)
        return dict(inputs=batch, data_samples=samples)
