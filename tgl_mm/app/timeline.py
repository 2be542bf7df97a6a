"""Each sentence's M+ (shaded) against its per-frame object scores and, with a TAM, its frame
scores: one row per sentence, from a ``result.json`` record (matplotlib, no display needed).

Sentences are drawn literally: every text from the request is a ``Text`` with math parsing off
(``parse_math=False``), so ``$x$`` or an unbalanced ``$`` is shown as typed instead of failing
to render."""
from __future__ import annotations

import matplotlib

matplotlib.use('Agg')  # no display needed; set before pyplot is imported anywhere
from matplotlib.figure import Figure  # noqa: E402

from tgl_mm.apis.video_outputs import colour  # noqa: E402


def timeline_figure(record: dict, width: float = 9.0, row_height: float = 1.9) -> Figure:
    """One row per sentence: M+ spans shaded in the sentence's colour, the SAM2 object-score
    logits (solid; > 0 means the object is there) and the TAM frame-score logits (dashed, when
    the grounding computed them), against the frame index.

    Args:
        record: an :func:`~tgl_mm.apis.video_outputs.infer_video` record.
        width: figure width in inches.
        row_height: height of one sentence's row in inches.

    Returns:
        a :class:`matplotlib.figure.Figure` (not registered with pyplot).
    """
    sentences = record['sentences']
    num = record['num_frames']
    fig = Figure(figsize=(width, 0.6 + row_height * len(sentences)), layout='constrained')
    axes = fig.subplots(len(sentences), 1, sharex=True, squeeze=False)[:, 0]
    frames = list(range(num))
    for ax, sentence in zip(axes, sentences):
        rgb = tuple(c / 255 for c in colour(sentence['index']))
        for a, b in sentence['mplus_spans']:
            ax.axvspan(a - 0.5, b + 0.5, color=rgb, alpha=0.25, lw=0)
        ax.plot(frames, sentence['object_scores'], color=rgb, lw=1.6, marker='.',
                label='object score (SAM2 logit)')
        if sentence.get('frame_scores') is not None:
            ax.plot(frames, sentence['frame_scores'], color='0.25', lw=1.2, ls='--',
                    label='TAM frame score (logit)')
        ax.axhline(0.0, color='0.6', lw=0.8)
        in_mplus = len(sentence['mplus_frames'])
        ax.set_title(f'{sentence["index"]}: {sentence["text"]}  (M+: {in_mplus} of {num} '
                     'frames)', fontsize=9, loc='left', parse_math=False)
        ax.set_ylabel('logit', fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_xlim(-0.5, num - 0.5)
    axes[0].legend(fontsize=7, loc='upper right')
    axes[-1].set_xlabel(f'frame (shaded: M+, grounding "{record["grounding"]}")', fontsize=8,
                        parse_math=False)
    return fig


__all__ = ['timeline_figure']
