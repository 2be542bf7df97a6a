"""How often object-level selective supervision changes a training target.

OSS (paper §4.4, :class:`~tgl_mm.datasets.transforms.ObjectSelectiveSupervision`) drops a
referred object from a clip's target when the object's moment misses every sampled frame. It can
only act on expressions whose objects have different moments, and only on the clips that miss one
of them. :func:`oss_changed_share` measures how often that happens: it draws clips with the
recipe's frame sampler (by default :class:`~.transforms.frame_sampling.MomentAwareFrameSampler`,
``num_frames=4``, ``mplus_ratio=0.5``) for every expression with object-level moments and counts
the clips whose target OSS changes. Pure: reads parsed moments, draws from its own seeded
generator, writes nothing.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tgl_mm.formats import ExpressionMoments

from .transforms.frame_sampling.moment_sampler import MomentAwareFrameSampler
from .transforms.oss import oss_keep

__all__ = ['oss_changed_share']


def oss_changed_share(moments: Mapping[str, Mapping[str, ExpressionMoments]],
                      num_frames: Mapping[str, int], *, clips_per_expression: int = 8,
                      clip_frames: int = 4, mplus_ratio: float = 0.5, seed: int = 0) -> dict:
    """Share of sampled training clips whose target OSS changes.

    For every expression with object-level moments, ``clips_per_expression`` clips are drawn
    with ``MomentAwareFrameSampler(clip_frames, mplus_ratio)`` from one generator seeded by
    ``seed`` (expressions in sorted video / expression order, so the result depends only on the
    moments and the seed). A clip counts as *changed* when at least one referred object's moment
    misses all its frames (``oss_keep`` is False for it): OSS then drops that object's masks.

    Args:
        moments: ``moments[video_id][exp_id]`` (e.g. ``MomentFile.moments``); video-level
            moments are skipped (OSS has no per-object moments to act on).
        num_frames: frames per video id.
        clips_per_expression: clips drawn per expression (>= 1).
        clip_frames, mplus_ratio: the frame sampler's ``num_frames`` and ``mplus_ratio``.
        seed: seed of the sampling generator.

    Returns:
        ``{"expressions", "clips", "changed_clips", "share", "expressions_with_changed_clips",
        "clips_per_expression", "clip_frames", "mplus_ratio", "seed"}``; ``share`` is
        ``changed_clips / clips`` (0.0 without clips).
    """
    if clips_per_expression < 1:
        raise ValueError(f'clips_per_expression must be >= 1, got {clips_per_expression}')
    sampler = MomentAwareFrameSampler(num_frames=clip_frames, mplus_ratio=mplus_ratio)
    rng = np.random.default_rng(seed)
    n_exp = n_clips = n_changed = n_exp_changed = 0
    for vid in sorted(moments):
        if vid not in num_frames:
            raise KeyError(f'video {vid!r} has moments but no frame count')
        t = int(num_frames[vid])
        for exp_id in sorted(moments[vid]):
            exp = moments[vid][exp_id]
            if exp.is_video_level or not exp.objects:
                continue
            obj_ids = sorted(exp.objects)
            info = dict(num_video_frames=t, mplus_spans=list(exp.mplus_spans()),
                        obj_moments=[list(s) for s in exp.object_spans(obj_ids)])
            changed = 0
            for _ in range(clips_per_expression):
                out = sampler.transform(dict(info, rng=rng))
                changed += int(not oss_keep(out['gt_obj_mplus']).all())
            n_exp += 1
            n_clips += clips_per_expression
            n_changed += changed
            n_exp_changed += changed > 0
    return dict(expressions=n_exp, clips=n_clips, changed_clips=n_changed,
                share=n_changed / n_clips if n_clips else 0.0,
                expressions_with_changed_clips=n_exp_changed,
                clips_per_expression=clips_per_expression, clip_frames=clip_frames,
                mplus_ratio=mplus_ratio, seed=seed)
