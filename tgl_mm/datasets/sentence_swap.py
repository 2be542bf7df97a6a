"""Sentence-swap evaluation: does the model read the sentence?

Each expression's sentence is replaced by the sentence of another expression *of the same video*
whose referred objects are disjoint from its own; the sample keeps the original expression's
masks and moments, so a model that reads the sentence scores much lower than with its own
sentence (the *swap gap*), while one that ignores it scores the same.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from tgl_mm.formats import DataFormatError, normalize_expression

__all__ = ['swap_partner', 'apply_sentence_swap']


def swap_partner(index: int, obj_ids: Sequence[Sequence[int]], texts: Sequence[str]
                 ) -> int | None:
    """The partner of expression ``index`` among a video's expressions (in their listed order):
    the first one after it, wrapping around, whose referred objects are disjoint from its own
    and whose sentence differs; ``None`` if there is none."""
    n = len(obj_ids)
    own = set(obj_ids[index])
    for step in range(1, n):
        j = (index + step) % n
        if own.isdisjoint(obj_ids[j]) and \
                normalize_expression(texts[j]) != normalize_expression(texts[index]):
            return j
    return None


def apply_sentence_swap(data_list: list[dict], source: str = 'dataset'
                        ) -> tuple[list[dict], list[str]]:
    """Swap sentences in data infos (``video_id``, ``exp_id``, ``text``, ``obj_ids``).

    Returns the swapped infos (``text`` replaced; ``original_text`` and ``swapped_from``, the
    partner's ``exp_id``, added) and the ``video/exp_id`` of the expressions dropped for lack of a
    partner. Expressions without referred objects (a split without annotations) raise.
    """
    by_video: dict[str, list[int]] = defaultdict(list)
    for i, info in enumerate(data_list):
        if not info.get('obj_ids'):
            raise DataFormatError('sentence swap needs the referred objects (obj_id) of every '
                                  'expression', file=source, video=info['video_id'],
                                  expression=info['exp_id'])
        by_video[info['video_id']].append(i)
    partner_of: dict[int, int | None] = {}
    for rows in by_video.values():
        objs = [data_list[i]['obj_ids'] for i in rows]
        texts = [data_list[i]['text'] for i in rows]
        for k, i in enumerate(rows):
            j = swap_partner(k, objs, texts)
            partner_of[i] = None if j is None else rows[j]
    swapped, dropped = [], []
    for i, info in enumerate(data_list):
        j = partner_of[i]
        if j is None:
            dropped.append(f'{info["video_id"]}/{info["exp_id"]}')
            continue
        swapped.append(dict(info, text=data_list[j]['text'], original_text=info['text'],
                            swapped_from=data_list[j]['exp_id']))
    return swapped, dropped
