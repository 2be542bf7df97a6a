"""Dataset wrappers that pass a sample's randomness key on (see :mod:`.sample_rng`)."""
from __future__ import annotations

from typing import Any

from mmengine.dataset import ConcatDataset as MMConcatDataset

from tgl_mm.registry import DATASETS

from .sample_rng import SampleIndex

__all__ = ['ConcatDataset']


@DATASETS.register_module(name=['ConcatDataset', 'KeyedConcatDataset'])
class ConcatDataset(MMConcatDataset):
    """mmengine's ``ConcatDataset`` (same arguments) whose member datasets receive the
    :class:`~tgl_mm.datasets.sample_rng.SampleIndex` key of the concatenated index, so their
    samples keep their own random generator (mmengine's passes a plain ``int`` on)."""

    def _get_ori_dataset_idx(self, idx: int) -> tuple[int, Any]:
        dataset_idx, sample_idx = super()._get_ori_dataset_idx(idx)
        key = getattr(idx, 'key', None)
        return dataset_idx, sample_idx if key is None else SampleIndex(sample_idx, key)
