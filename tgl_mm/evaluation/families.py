"""J&F per expression family (the families file: :mod:`tgl_mm.formats.families`)."""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

from .report import expression_key, summarize

__all__ = ['attach_families', 'summarize_by_family',
           'flat_family_metrics', 'format_family_table', 'report_family_means']

def attach_families(records: Sequence[dict], families: dict[tuple[str, str], str],
                    source: str | os.PathLike = 'families') -> None:
    """Set ``record['family']`` for every record (in place); a record whose expression the
    families lack raises, naming it and ``source``."""
    for rec in records:
        key = expression_key(rec)
        if key not in families:
            raise ValueError(f'file {source}: no family for video {key[0]!r}, expression '
                             f'{key[1]!r}')
        rec['family'] = families[key]


def summarize_by_family(records: Sequence[dict]) -> dict[str, dict]:
    """``{family: summary}`` (see :func:`tgl_mm.evaluation.report.summarize`: J, F, J&F,
    num_expressions and any grounding figures) over the records that carry a ``family``,
    families sorted by name."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        if rec.get('family') is not None:
            groups[str(rec['family'])].append(rec)
    return {fam: summarize(groups[fam]) for fam in sorted(groups)}


def flat_family_metrics(per_family: dict[str, dict]) -> dict[str, float]:
    """Scalar metrics for the log: ``<family>/J``, ``<family>/F``, ``<family>/J&F``,
    ``<family>/num_expressions``."""
    out: dict[str, float] = {}
    for fam, s in per_family.items():
        for key in ('J', 'F', 'J&F', 'num_expressions'):
            if key in s:
                out[f'{fam}/{key}'] = s[key]
    return out


def format_family_table(per_family: dict[str, dict], overall: dict | None = None) -> str:
    """A small text table: one row per family (and ``all``) with its count, J, F and J&F."""
    lines = [f'{"family":<12} {"exps":>5} {"J":>6} {"F":>6} {"J&F":>6}']
    rows = list(per_family.items()) + ([('all', overall)] if overall else [])
    for fam, s in rows:
        if 'J' in s:
            lines.append(f'{fam:<12} {s["num_expressions"]:5d} {s["J"]:6.1f} {s["F"]:6.1f} '
                         f'{s["J&F"]:6.1f}')
        else:
            lines.append(f'{fam:<12} {s["num_expressions"]:5d} {"-":>6} {"-":>6} {"-":>6}')
    return '\n'.join(lines)


def report_family_means(report: dict, families: Sequence[str],
                        keys: set[tuple[str, str]] | None = None
                        ) -> dict[str, dict[str, float | None]]:
    """``{family: {"jf", "j", "f"}}``: mean J&F, J and F of an ``rvos_report.json``'s scored
    expressions per family (``'all'``: every expression), only those in ``keys`` (``(video_id,
    exp_id)``) if given; ``None`` where a family has no expression."""
    import numpy as np
    recs = [r for r in report['per_expression'] if r.get('J&F') is not None
            and (keys is None or expression_key(r) in keys)]
    out = {}
    for fam in families:
        sel = [r for r in recs if fam == 'all' or r.get('family') == fam]
        out[fam] = {}
        for k, m in (('jf', 'J&F'), ('j', 'J'), ('f', 'F')):
            vals = [r[m] for r in sel if r.get(m) is not None]
            out[fam][k] = float(np.mean(vals)) if vals else None
    return out
