"""Expression families file: a family name per expression (synthetic MeViS-M's ``appearance`` /
``event`` / ``motion``, or any grouping in the same format). Scoring per family:
:mod:`tgl_mm.evaluation.families`.

File (``{split}/expression_families.json``, written by the synthetic generator)::

    {"videos": {"<video_id>": {"<exp_id>": "<family>", ...}, ...}}
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ['FAMILIES_FILE', 'load_families']

#: name of the families file inside a split directory
FAMILIES_FILE = 'expression_families.json'


def load_families(path: str | os.PathLike) -> dict[tuple[str, str], str]:
    """``{(video_id, exp_id): family}`` from a families file; a malformed file raises a
    ``ValueError`` naming the file, video, expression and field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise FileNotFoundError(f'families file not found: {path}') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'file {path}: invalid JSON at line {e.lineno}: {e.msg}') from e
    videos = raw.get('videos') if isinstance(raw, dict) else None
    if not isinstance(videos, dict):
        raise ValueError(f'file {path}, field "videos": expected an object of videos')
    out: dict[tuple[str, str], str] = {}
    for vid, exps in videos.items():
        if not isinstance(exps, dict):
            raise ValueError(f'file {path}, video {vid!r}: expected an object '
                             '{exp_id: family}')
        for exp_id, family in exps.items():
            if not isinstance(family, str) or not family:
                raise ValueError(f'file {path}, video {vid!r}, expression {exp_id!r}, field '
                                 f'family: expected a non-empty string, got {family!r}')
            out[(str(vid), str(exp_id))] = family
    return out
