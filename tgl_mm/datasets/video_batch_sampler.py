"""Test batches of one video's expressions, so the model shares their sentence-independent work.

``TGLSAM2.predict`` segments the samples of one video found in a batch side by side and computes
the image-encoder trunk and ``F_SAM`` once per frame for all of them
(:meth:`~tgl_mm.models.segmentors.TGLSAM2.predict_expressions`). With mmengine's default batching
a test batch holds one expression, so nothing is shared; :class:`VideoBatchSampler` batches the
consecutive samples of one video instead (at most ``batch_size``; a new video starts a new batch)::

    test_dataloader = dict(batch_size=8, batch_sampler=dict(type='VideoBatchSampler'),
                           sampler=dict(type='DefaultSampler', shuffle=False), ...)

It only regroups what the sampler yields (the rank's indices under DDP, in their order), so
every sample is predicted exactly once and each rank keeps its sample count. A batch holds its
video's frames once per expression (the dataset pipeline loads them per sample): ``batch_size``
bounds that.
"""
from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Sampler

from tgl_mm.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class VideoBatchSampler(Sampler[list[int]]):
    """Batch consecutive sampler indices that belong to the same video.

    Args:
        sampler: the index sampler (e.g. mmengine's ``DefaultSampler``); its ``dataset`` (or
            ``dataset`` given here) must have ``get_data_info(i)['video_id']``.
        batch_size: largest number of expressions in a batch.
        dataset: the dataset, if the sampler has no ``dataset`` attribute.
    """

    def __init__(self, sampler: Sampler, batch_size: int, dataset=None) -> None:
        if batch_size < 1:
            raise ValueError(f'VideoBatchSampler: batch_size must be >= 1, got {batch_size}')
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.dataset = dataset if dataset is not None else getattr(sampler, 'dataset', None)
        if self.dataset is None or not hasattr(self.dataset, 'get_data_info'):
            raise ValueError('VideoBatchSampler needs a dataset with get_data_info (pass '
                             'dataset= when the sampler has none)')

    def video_of(self, index: int) -> str:
        """The ``video_id`` of sample ``index``."""
        return self.dataset.get_data_info(int(index))['video_id']

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        video = None
        for index in self.sampler:
            current = self.video_of(index)
            if batch and (current != video or len(batch) == self.batch_size):
                yield batch
                batch = []
            batch.append(index)
            video = current
        if batch:
            yield batch

    def __len__(self) -> int:
        return sum(1 for _ in self)


__all__ = ['VideoBatchSampler']
