"""VideoBatchSampler: test batches of one video's expressions, bounded, nothing lost."""
import pytest

from tgl_mm.datasets import VideoBatchSampler


class Videos:
    """A stand-in dataset: sample i belongs to ``videos[i]``."""

    def __init__(self, videos):
        self.videos = videos

    def __len__(self):
        return len(self.videos)

    def get_data_info(self, i):
        return dict(video_id=self.videos[i])


class Indices(list):
    def __init__(self, indices, dataset):
        super().__init__(indices)
        self.dataset = dataset


def test_batches_split_at_videos_and_at_the_bound():
    data = Videos(['a', 'a', 'a', 'b', 'c', 'c', 'a'])
    sampler = VideoBatchSampler(Indices(range(7), data), batch_size=2)
    assert list(sampler) == [[0, 1], [2], [3], [4, 5], [6]]
    assert len(sampler) == 5
    assert list(VideoBatchSampler(Indices(range(7), data), batch_size=1)) == \
        [[i] for i in range(7)]


def test_regroups_only_what_the_sampler_yields():
    """A rank's shard under DDP (every other index): each sample once, in the shard's order."""
    data = Videos(['a'] * 4 + ['b'] * 3)
    shard = [0, 2, 4, 6, 1]
    batches = list(VideoBatchSampler(shard, batch_size=8, dataset=data))
    assert batches == [[0, 2], [4, 6], [1]]
    assert sorted(i for b in batches for i in b) == sorted(shard)


def test_bad_arguments():
    with pytest.raises(ValueError, match='batch_size'):
        VideoBatchSampler([0], batch_size=0, dataset=Videos(['a']))
    with pytest.raises(ValueError, match='get_data_info'):
        VideoBatchSampler([0], batch_size=2)
