"""A learned moment retriever: the TAM's spans written as a moment-retrieval prediction file.

The Temporal Alignment Module (paper A.2.2) of a TGL checkpoint trained on the train split
(``tools/train.py``, then ``tools/train_tam.py``, which trains and calibrates the TAM on training
videos only) scores every frame of a test video. :class:`~tgl_mm.models.grounding.TAMGrounding`
turns the scores into an M+; here each contiguous run of that M+ becomes one window
``[start, end, score]`` scored by the mean TAM score over it, best first
(:func:`~tgl_mm.models.grounding.span_ops.mask_to_scored_windows`). Read back by
``--grounding moment_retrieval`` with ``top_k`` at least the number of windows, the file gives
the same M+ as ``--grounding tam``; with ``top_k=1`` it is the TAM's best span. So one point of
the grounding-quality curve carries a real model's errors.

Nothing here reads ground truth: the dataloader is built without a moment file and the TAM sees
frames and sentences only. ``tools/analysis/tam_predictions.py`` is the command line.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from tgl_mm.models.grounding.span_ops import mask_to_scored_windows
from tgl_mm.models.grounding.tam_grounding import TAMGrounding
from tgl_mm.models.segmentors.tgl_sam2 import same_video_groups

__all__ = ['tam_window_records', 'tam_split_loader', 'tam_trained_split', 'write_tam_predictions']


@torch.no_grad()
def tam_window_records(model, dataloader: Iterable[dict], grounding: TAMGrounding | None = None,
                       progress: Callable[[int], None] | None = None) -> list[dict]:
    """Moment-retrieval records ``{"qid", "pred_relevant_windows"}`` of the TAM's M+ for every
    expression of a test-style dataloader.

    Args:
        model: a :class:`~tgl_mm.models.segmentors.TGLSAM2` with a trained TAM, in eval mode.
        dataloader: batches as ``tools/test.py`` loads them (whole videos).
        grounding: how scores become M+; default the model's own grounding when it is a
            :class:`TAMGrounding`, else ``TAMGrounding()`` (calibrated threshold).
        progress: called with the number of expressions done in each batch.

    Returns:
        one record per expression, in loader order; windows half-open in frames, each scored by
        the mean of the TAM's calibrated logits (:meth:`TemporalAlignmentModule.relevance`)
        over it, best first.
    """
    if getattr(model, 'tam', None) is None:
        raise ValueError('the model has no TAM: use a TAM config and a checkpoint trained with '
                         'tools/train_tam.py')
    if grounding is None:
        grounding = model.grounding if isinstance(model.grounding, TAMGrounding) \
            else TAMGrounding()
    records = []
    for data in dataloader:
        inputs = model.data_preprocessor.collate(data)
        samples = data['data_samples']
        for rows in same_video_groups(inputs, samples):
            group = [samples[i] for i in rows]
            for sample, x in zip(group, model.video_tam_inputs(inputs[rows[0]], group)):
                scores = model.tam.relevance(x.frame_embeds[None], x.text_feats[None],
                                             x.text_mask[None])[0].float().cpu()
                mplus = grounding(sample, scores).mplus
                meta = sample.metainfo
                records.append({'qid': f'{meta["video_id"]}/{meta["exp_id"]}',
                                'pred_relevant_windows': mask_to_scored_windows(mplus, scores)})
        if progress is not None:
            progress(len(samples))
    return records


def tam_split_loader(cfg, split: str):
    """The config's test dataloader on ``split``, without a moment file (no ground-truth
    moments reach the samples)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.dataset.update(split=split, moment_file=None)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tgl_mm')):
        return Runner.build_dataloader(loader_cfg)


def tam_trained_split(checkpoint: dict) -> str | None:
    """The split the checkpoint's TAM was trained on (``meta['tam']['settings']['split']``
    written by ``tools/train_tam.py``), or None when the checkpoint does not say."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    tam = (meta or {}).get('tam') or {}
    return (tam.get('settings') or {}).get('split')


def write_tam_predictions(cfg, checkpoint: str | Path, out: str | Path, split: str = 'valid_u',
                          log: Callable[[str], None] = print) -> list[dict]:
    """Load a TAM config and checkpoint, write the TAM's windows on ``split`` to ``out``
    (JSON lines, atomic) and return the records.

    Raises:
        ValueError: the config has no TAM, the checkpoint's TAM was not trained by
            ``tools/train_tam.py`` (no ``meta['tam']``), or it was trained on ``split`` itself.
    """
    from mmengine.utils import ProgressBar

    from tgl_mm.apis.inference import init_model
    from tgl_mm.models.grounding.prediction_files import write_prediction_file
    from tgl_mm.utils.checkpoint import load_checkpoint_file

    if cfg.model.get('tam') is None:
        raise ValueError('the config has no model.tam: use a TAM config such as '
                         'configs/tgl/tgl_tiny_synthetic_tam.py')
    trained_on = tam_trained_split(load_checkpoint_file(checkpoint, map_location='cpu'))
    if trained_on is None:
        raise ValueError(f'{checkpoint}: no meta["tam"]: train its TAM with tools/train_tam.py '
                         'first')
    if trained_on == split:
        raise ValueError(f'{checkpoint}: its TAM was trained on split {split!r}; predict on '
                         'another split')
    model = init_model(cfg, str(checkpoint))
    loader = tam_split_loader(cfg, split)
    bar = ProgressBar(len(loader.dataset))
    records = tam_window_records(model, loader, progress=lambda n: [bar.update()
                                                                    for _ in range(n)])
    print()
    write_prediction_file(records, out)
    log(f'wrote {out}: {len(records)} queries of split {split!r} (TAM trained on '
        f'{trained_on!r})')
    return records
