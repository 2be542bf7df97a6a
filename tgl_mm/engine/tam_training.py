"""Training the Temporal Alignment Module (paper A.2.2) as it is used at inference.

At inference the TAM scores a whole video before M+ is known: every frame on the adapter path,
the video encoded clip by clip, the TAM reading all frames at once
(:meth:`TGLSAM2.tam_inputs <tgl_mm.models.segmentors.TGLSAM2.tam_inputs>`). Training it inside
the segmentation loss instead shows it clips that are at least half M+ and never contiguous, so
its scores and its 0.5 threshold are fitted to statistics it never meets at test time. Here:

1. :func:`extract_tam_examples`: the trained TGL model (frozen) computes the TAM inputs of every
   training expression over its whole video, with the inference code (:class:`TAMExample`).
2. :func:`train_tam`: the TAM learns per-frame relevance (BCE, its own :meth:`loss`) on
   contiguous windows: the whole video, or with ``crop_prob`` a random contiguous crop of at
   least ``min_frames`` frames (:func:`sample_window`).
3. :func:`choose_threshold`: on held-out training videos, the probability threshold whose M+
   (:func:`~tgl_mm.models.grounding.tam_mplus`, the test-time grounding) has the best mean
   frame IoU with the annotated moments; :meth:`TemporalAlignmentModule.calibrate` stores it.

``tools/train_tam.py`` runs the three steps and writes the TGL checkpoint with the TAM in it.
"""
from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tgl_mm.models.grounding.tam_grounding import tam_mplus
from tgl_mm.models.segmentors.tgl_sam2 import same_video_groups
from tgl_mm.utils.fileio import atomic_path

__all__ = ['TAMExample', 'extract_tam_examples', 'sample_window', 'collate_examples',
           'train_tam', 'example_scores', 'mplus_iou', 'choose_threshold', 'split_by_video',
           'TAM_TRAIN_DEFAULTS', 'TAM_TRAIN_CHECKS', 'tam_train_settings', 'finite_or_none',
           'load_or_extract_examples', 'fit_tam']


@dataclass
class TAMExample:
    """One training expression over its whole video.

    Attributes:
        qid: ``video_id/exp_id``. video_id: the video (held-out splits are by video).
        frame_embeds: (T, 2C) adapted frame features (mean and max pooled).
        text_feats: (L, D). text_mask: bool (L,).
        labels: bool (T,) the annotated M+.
    """

    qid: str
    video_id: str
    frame_embeds: Tensor
    text_feats: Tensor
    text_mask: Tensor
    labels: Tensor

    def to_dict(self) -> dict:
        return dict(qid=self.qid, video_id=self.video_id, frame_embeds=self.frame_embeds,
                    text_feats=self.text_feats, text_mask=self.text_mask, labels=self.labels)


@torch.no_grad()
def extract_tam_examples(model, dataloader: Iterable[dict],
                         progress: Callable[[int], None] | None = None) -> list[TAMExample]:
    """TAM inputs of every expression of a test-style dataloader (whole videos, ``gt_mplus``).

    Args:
        model: a :class:`~tgl_mm.models.segmentors.TGLSAM2` in eval mode.
        dataloader: batches as ``tools/test.py`` loads them (``VideoBatchSampler`` batches share
            the image-encoder trunk).
        progress: called with the number of expressions done in each batch.
    """
    examples = []
    for data in dataloader:
        inputs = model.data_preprocessor.collate(data)
        samples = data['data_samples']
        for sample in samples:   # checked before any encoder work
            meta = sample.metainfo
            if 'gt_mplus' not in sample or meta.get('has_moments', True) is False:
                raise ValueError(f'expression {meta.get("video_id")}/{meta.get("exp_id")} '
                                 'has no moment annotation: the TAM learns from moments '
                                 '(set moment_file on the dataset)')
        for rows in same_video_groups(inputs, samples):
            group = [samples[i] for i in rows]
            for sample, x in zip(group, model.video_tam_inputs(inputs[rows[0]], group)):
                meta = sample.metainfo
                examples.append(TAMExample(
                    f'{meta["video_id"]}/{meta["exp_id"]}', str(meta['video_id']),
                    x.frame_embeds.float().cpu(), x.text_feats.float().cpu(),
                    x.text_mask.cpu(), sample.gt_mplus.bool().cpu()))
        if progress is not None:
            progress(len(samples))
    return examples


def sample_window(num_frames: int, crop_prob: float, min_frames: int,
                  rng: random.Random) -> tuple[int, int]:
    """A contiguous window ``[start, end)``: the whole video, or with probability ``crop_prob``
    a crop whose length is uniform in ``[min(min_frames, T), T]`` at a uniform start."""
    if num_frames < 1:
        raise ValueError('a TAM example needs at least one frame')
    if rng.random() >= crop_prob:
        return 0, num_frames
    length = rng.randint(min(min_frames, num_frames), num_frames)
    start = rng.randint(0, num_frames - length)
    return start, start + length


def collate_examples(examples: Sequence[TAMExample],
                     windows: Sequence[tuple[int, int]] | None = None) -> dict[str, Tensor]:
    """Pad examples (cut to their ``[start, end)`` windows) into a batch.

    Returns:
        ``frame_feats`` (B, T, C), ``frame_mask`` bool (B, T), ``text_feats`` (B, L, D),
        ``text_mask`` bool (B, L), ``labels`` bool (B, T); padding is zero / False.
    """
    if windows is None:
        windows = [(0, len(x.labels)) for x in examples]
    steps = max(end - start for start, end in windows)
    tokens = max(len(x.text_mask) for x in examples)
    batch = len(examples)
    channels, dim = examples[0].frame_embeds.shape[1], examples[0].text_feats.shape[1]
    out = dict(frame_feats=torch.zeros(batch, steps, channels),
               frame_mask=torch.zeros(batch, steps, dtype=torch.bool),
               text_feats=torch.zeros(batch, tokens, dim),
               text_mask=torch.zeros(batch, tokens, dtype=torch.bool),
               labels=torch.zeros(batch, steps, dtype=torch.bool))
    for b, (x, (start, end)) in enumerate(zip(examples, windows)):
        n, m = end - start, len(x.text_mask)
        out['frame_feats'][b, :n] = x.frame_embeds[start:end]
        out['frame_mask'][b, :n] = True
        out['labels'][b, :n] = x.labels[start:end]
        out['text_feats'][b, :m] = x.text_feats
        out['text_mask'][b, :m] = x.text_mask
    return out


def train_tam(tam: torch.nn.Module, examples: Sequence[TAMExample], *, iters: int,
              batch_size: int = 16, lr: float = 1e-3, weight_decay: float = 1e-2,
              crop_prob: float = 0.5, min_frames: int = 8, seed: int = 0,
              log: Callable[[int, float], None] | None = None, log_interval: int = 50
              ) -> list[float]:
    """Train ``tam`` (a :class:`TemporalAlignmentModule`) on ``examples`` with AdamW and a
    cosine learning rate; batches of random examples, each cut to :func:`sample_window`.

    Returns:
        the loss of every iteration. ``log(iteration, mean loss)`` every ``log_interval``.
    """
    if not examples:
        raise ValueError('no TAM training example')
    if iters < 1 or batch_size < 1:
        raise ValueError(f'train_tam needs iters >= 1 and batch_size >= 1, got iters={iters}, '
                         f'batch_size={batch_size}')
    rng = random.Random(seed)
    torch.manual_seed(seed)
    tam.train()
    optim = torch.optim.AdamW(tam.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, iters) / max(iters, 1))))
    device = next(tam.parameters()).device
    losses = []
    for it in range(iters):
        picked = [examples[rng.randrange(len(examples))] for _ in range(batch_size)]
        windows = [sample_window(len(x.labels), crop_prob, min_frames, rng) for x in picked]
        batch = {k: v.to(device) for k, v in collate_examples(picked, windows).items()}
        scores = tam(batch['frame_feats'], batch['text_feats'], batch['text_mask'],
                     batch['frame_mask'])
        loss = tam.loss(scores, batch['labels'], batch['frame_mask'])['loss_tam']
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log is not None and ((it + 1) % log_interval == 0 or it + 1 == iters):
            log(it + 1, float(np.mean(losses[-log_interval:])))
    tam.eval()
    return losses


@torch.no_grad()
def example_scores(tam: torch.nn.Module, examples: Sequence[TAMExample],
                   calibrated: bool = False) -> list[Tensor]:
    """TAM logits (T,) of each example over its whole video (raw :meth:`forward`, or
    :meth:`relevance` with ``calibrated``)."""
    tam.eval()
    device = next(tam.parameters()).device
    fn = tam.relevance if calibrated else tam
    return [fn(x.frame_embeds[None].to(device), x.text_feats[None].to(device),
               x.text_mask[None].to(device))[0].cpu() for x in examples]


def mplus_iou(pred: Tensor, gt: Tensor) -> float:
    """Frame-level IoU of two bool (T,) M+ masks (1 when both are empty)."""
    union = int((pred | gt).sum())
    return 1.0 if union == 0 else int((pred & gt).sum()) / union


def choose_threshold(scores: Sequence[Tensor], labels: Sequence[Tensor], mode: str = 'threshold',
                     grid: Sequence[float] = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
                     ) -> tuple[float, dict[float, float]]:
    """The probability threshold (of raw TAM logits) whose M+ in ``mode``
    (:func:`~tgl_mm.models.grounding.tam_mplus`) has the best mean frame IoU with ``labels``.

    Returns:
        the threshold (the smallest among equals) and the mean IoU at every grid value.
    """
    if mode == 'topk':
        raise ValueError("TAM mode 'topk' has no threshold to choose")
    if not scores or len(scores) != len(labels):
        raise ValueError(f'{len(scores)} score arrays for {len(labels)} label arrays')
    table = {float(t): float(np.mean([mplus_iou(tam_mplus(s, mode, float(t)), g.bool())
                                      for s, g in zip(scores, labels)])) for t in grid}
    best = max(table.values())
    return min(t for t, v in table.items() if v == best), table


def split_by_video(examples: Sequence[TAMExample], held_out: float, seed: int = 0
                   ) -> tuple[list[TAMExample], list[TAMExample]]:
    """Split examples into (train, held-out) by video: ``held_out`` of the videos (at least one
    when ``held_out > 0`` and there are two videos or more), chosen with ``seed``."""
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f'held_out must be in [0, 1), got {held_out}')
    videos = sorted({x.video_id for x in examples})
    count = min(len(videos) - 1, max(1, round(held_out * len(videos)))) if held_out > 0 else 0
    chosen = set(random.Random(seed).sample(videos, count)) if count > 0 else set()
    return ([x for x in examples if x.video_id not in chosen],
            [x for x in examples if x.video_id in chosen])


#: what the feature cache holds (bumped when :meth:`TGLSAM2.tam_inputs` changes: 2 = mean and
#: max pooled frames)
TAM_INPUTS_VERSION = 2

#: ``tam_train`` config keys and their defaults (``tools/train_tam.py``)
TAM_TRAIN_DEFAULTS: dict = dict(split='train', moment_file='moments/train.json', iters=1500,
                                batch_size=16, lr=1e-3, weight_decay=1e-2, crop_prob=0.5,
                                min_frames=8, held_out=0.2)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


#: ``tam_train`` key -> (check, what it must be)
TAM_TRAIN_CHECKS: dict = dict(
    iters=(lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    batch_size=(lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    lr=(lambda v: _is_real(v) and v > 0, 'a number > 0'),
    weight_decay=(lambda v: _is_real(v) and v >= 0, 'a number >= 0'),
    crop_prob=(lambda v: _is_real(v) and 0 <= v <= 1, 'a number in [0, 1]'),
    min_frames=(lambda v: _is_int(v) and v >= 1, 'an integer >= 1'),
    held_out=(lambda v: _is_real(v) and 0 <= v < 1, 'a number in [0, 1)'),
    split=(lambda v: isinstance(v, str) and bool(v), 'a split name'),
    moment_file=(lambda v: isinstance(v, str) and bool(v), 'a moment file path'),
)


def tam_train_settings(cfg) -> dict:
    """The config's ``tam_train`` over :data:`TAM_TRAIN_DEFAULTS`; unknown keys and values out
    of range (:data:`TAM_TRAIN_CHECKS`: ``iters < 1``, ``batch_size < 1``, ...) are refused
    with a ``ValueError`` naming the key, before any work."""
    given = dict(cfg.get('tam_train') or {})
    unknown = sorted(set(given) - set(TAM_TRAIN_DEFAULTS))
    if unknown:
        raise ValueError(f'tam_train: unknown keys {unknown}; known: {sorted(TAM_TRAIN_DEFAULTS)}')
    settings = {**TAM_TRAIN_DEFAULTS, **given}
    for key, (ok, what) in TAM_TRAIN_CHECKS.items():
        if not ok(settings[key]):
            raise ValueError(f'tam_train.{key} must be {what}, got {settings[key]!r}')
    return settings


def finite_or_none(value: object) -> object:
    """``value`` with every non-finite float (NaN, inf) replaced by None, through dicts and
    lists: what a JSON summary can hold (``json`` would write a bare ``NaN``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def load_or_extract_examples(model, cfg, checkpoint_sha256: str, cache: Path | None,
                             settings: dict) -> list[TAMExample]:
    """:func:`extract_tam_examples` on the ``settings['split']`` split of the config's test
    dataloader, reusing ``cache`` when it holds the same features (:data:`TAM_INPUTS_VERSION`),
    checkpoint, split, moment file and data root."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmengine.utils import ProgressBar

    from tgl_mm.utils.checkpoint import load_checkpoint_file

    key = dict(version=TAM_INPUTS_VERSION, checkpoint_sha256=checkpoint_sha256,
               split=settings['split'],
               moment_file=settings['moment_file'], data_root=cfg.test_dataloader.dataset.get(
                   'data_root'))
    if cache is not None and cache.is_file():
        stored = load_checkpoint_file(cache, map_location='cpu')
        if stored.get('key') == key:
            return [TAMExample(**x) for x in stored['examples']]
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.dataset.update(split=settings['split'], moment_file=settings['moment_file'])
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
        loader = Runner.build_dataloader(loader_cfg)
    bar = ProgressBar(len(loader.dataset))
    examples = extract_tam_examples(model, loader, lambda n: [bar.update() for _ in range(n)])
    print()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            torch.save(dict(key=key, examples=[x.to_dict() for x in examples]), tmp)
    return examples


def _pct(value: float | None) -> str:
    """A percentage for the log, ``n/a`` when it could not be measured."""
    return 'n/a' if value is None else f'{value:.1f}'


def fit_tam(cfg, checkpoint: str, out: str, work_dir: str, seed: int = 0,
            log: Callable[[str], None] = print) -> dict:
    """Train the config's TAM on a trained TGL checkpoint and write ``out``: the checkpoint with
    the TAM (calibrated) in its weights and ``meta['tam']`` (the summary returned).

    The TGL weights are loaded strictly except ``tam.``; they stay frozen (the TAM reads their
    features). Features of the training split are cached in ``work_dir``.
    """
    from mmengine.registry import DefaultScope

    from tgl_mm.apis.inference import init_model
    from tgl_mm.models.utils.sam2_checkpoint import file_sha256
    from tgl_mm.registry import MODELS
    from tgl_mm.utils.checkpoint import (
        checkpoint_state_dict,
        load_checkpoint_file,
        load_weights_into,
    )

    if cfg.model.get('tam') is None:
        raise ValueError('the config has no model.tam: use a TAM config such as '
                         'configs/tgl/tgl_tiny_synthetic_tam.py')
    settings = tam_train_settings(cfg)
    # the threshold is chosen for the config's TAM mode; 'topk' (no threshold) and the other
    # groundings that read TAM scores (hybrid) get the 'threshold' one
    grounding = (cfg.model.get('test_cfg') or {}).get('grounding') or {}
    mode = grounding.get('mode', 'threshold') if grounding.get('type') == 'tam' else 'threshold'
    mode = mode if mode in ('threshold', 'span') else 'threshold'
    ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
    model = init_model(cfg)
    load_weights_into(model, ckpt, checkpoint, allow_missing=('tam.',))
    model.eval()
    sha = file_sha256(checkpoint)
    examples = load_or_extract_examples(
        model, cfg, sha, Path(work_dir) / f'tam_inputs_{settings["split"]}_{sha[:12]}.pt',
        settings)
    train, held = split_by_video(examples, settings['held_out'], seed)
    calib = held or train
    log(f'TAM: {len(train)} training expressions, {len(held)} held out for the threshold '
        f'(seed {seed})')
    torch.manual_seed(seed)  # the TAM's initialisation depends on the seed only
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
        tam = model.tam = MODELS.build(cfg.model.tam)
    losses = train_tam(tam, train, iters=settings['iters'], batch_size=settings['batch_size'],
                       lr=settings['lr'], weight_decay=settings['weight_decay'],
                       crop_prob=settings['crop_prob'], min_frames=settings['min_frames'],
                       seed=seed, log=lambda i, v: log(f'TAM iter {i}: loss {v:.4f}'))
    scores = example_scores(tam, calib)
    threshold, table = choose_threshold(scores, [x.labels for x in calib], mode)
    tam.calibrate(threshold)
    at_half = table.get(0.5)
    summary = dict(seed=seed, mode=mode, threshold=threshold,
                   held_out_mplus_iou=100 * table[threshold],
                   held_out_mplus_iou_at_0_5=None if at_half is None else 100 * at_half,
                   held_out_keyframe_top1=100 * float(np.mean(
                       [bool(x.labels[int(s.argmax())]) for s, x in zip(scores, calib)])),
                   final_loss=float(np.mean(losses[-50:])), train_expressions=len(train),
                   held_out_expressions=len(held), checkpoint=str(checkpoint),
                   checkpoint_sha256=sha, settings=settings)
    summary = finite_or_none(summary)
    state = checkpoint_state_dict(ckpt, checkpoint)
    state.update({f'tam.{k}': v.detach().cpu() for k, v in tam.state_dict().items()})
    meta = dict(ckpt.get('meta') or {}) if isinstance(ckpt, dict) else {}
    meta['tam'] = summary
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(dict(state_dict=state, meta=meta), tmp)
    log(f'TAM threshold {threshold:.2f}: held-out M+ IoU {_pct(summary["held_out_mplus_iou"])} '
        f'(0.5: {_pct(summary["held_out_mplus_iou_at_0_5"])}), keyframe top-1 '
        f'{_pct(summary["held_out_keyframe_top1"])}; wrote {out}')
    return summary
