"""RVOSMetric under real distributed collection: two gloo processes, a padded sampler split."""
import multiprocessing as mp

import numpy as np
import pytest
import torch
import torch.distributed as dist

from tgl_mm.evaluation import RVOSMetric
from tgl_mm.structures.video_data_sample import VideoDataSample


def _samples():
    rng = np.random.default_rng(5)
    out = []
    for i in range(5):
        gt = rng.random((2, 9, 12)) < 0.3
        pred = gt ^ (rng.random((2, 9, 12)) < 0.2)
        s = VideoDataSample(metainfo=dict(video_id=f'v{i // 2}', exp_id=str(i % 2),
                                          frame_names=['00000', '00001']))
        s.pred_masks = torch.from_numpy(pred)
        s.gt_masks = torch.from_numpy(gt)
        out.append(s)
    return out


def _worker(rank, init_file, queue):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    try:
        samples = _samples()
        # mmengine DefaultSampler(round_up=True): indices padded to 6, rank r takes r::2
        indices = (list(range(5)) + [0])[rank::2]
        metric = RVOSMetric(save_breakdown=False)
        for i in indices:
            metric.process(None, [samples[i].to_dict()])
        queue.put((rank, metric.evaluate(size=5)))
    finally:
        dist.destroy_process_group()


@pytest.mark.dist
def test_two_ranks_match_single_process(tmp_path):
    single = RVOSMetric(save_breakdown=False)
    single.process(None, _samples())
    expected = {f'rvos/{k}': v for k, v in single.compute_metrics(single.results).items()}
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, str(tmp_path / 'init'), queue))
             for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == expected and results[1] == expected
    assert expected['rvos/num_expressions'] == 5
