"""Pack prediction folders into the zip files the evaluation servers expect.

* MeViS ``valid``: the video folders at the zip root, ``<video>/<exp_id>/<frame>.png``.
* Ref-YouTube-VOS ``valid``: ``Annotations/<video>/<exp_id>/<frame>.png``; the valid split is the
  videos of ``meta_expressions/valid`` minus those of ``meta_expressions/test`` (202 videos).

With the split's ``meta_expressions.json`` the packer checks completeness first: every video,
expression and frame must have its PNG (missing ones are listed by name and nothing is written,
unless ``allow_missing``); PNGs the split does not list are left out and reported. The zip is
written to a temporary file and renamed into place.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from tqdm import tqdm

from tgl_mm import formats
from tgl_mm.utils.fileio import atomic_path

__all__ = ['SubmissionError', 'plan_submission', 'pack_submission', 'pack_mevis_valid',
           'pack_ref_ytvos_valid']


class SubmissionError(ValueError):
    """The predictions are incomplete (the message lists what is missing)."""


def _preview(items: list[str], limit: int = 10) -> str:
    more = f' ... (+{len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def _scan(pred_dir: Path) -> dict[str, dict[str, dict[str, Path]]]:
    """``{video: {exp_id: {frame: path}}}`` of the PNGs found (hidden folders skipped)."""
    out: dict[str, dict[str, dict[str, Path]]] = {}
    for vdir in sorted(p for p in pred_dir.iterdir() if p.is_dir() and not p.name.startswith('.')):
        for edir in sorted(p for p in vdir.iterdir()
                           if p.is_dir() and not p.name.startswith('.')):
            frames = {p.stem: p for p in sorted(edir.glob('*.png'))}
            if frames:
                out.setdefault(vdir.name, {})[edir.name] = frames
    return out


def plan_submission(pred_dir: str | os.PathLike, meta_path: str | os.PathLike | None = None,
                    exclude_meta_path: str | os.PathLike | None = None) -> dict:
    """What a submission would contain.

    Returns:
        ``{"files": [(arcname_without_root, path)], "missing": {"videos", "expressions",
        "frames"}, "extra": [...], "num_videos", "num_expressions"}``.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f'prediction folder not found: {pred_dir}')
    found = _scan(pred_dir)
    missing = {'videos': [], 'expressions': [], 'frames': []}
    extra: list[str] = []
    files: list[tuple[str, Path]] = []
    if meta_path is None:
        for vid, exps in found.items():
            for eid, frames in exps.items():
                files += [(f'{vid}/{eid}/{f}.png', p) for f, p in frames.items()]
        return {'files': files, 'missing': missing, 'extra': extra, 'num_videos': len(found),
                'num_expressions': sum(len(e) for e in found.values())}
    videos = formats.load_meta_expressions(meta_path, require_ids=False, normalize_text=False)
    if exclude_meta_path is not None:
        excluded = formats.load_meta_expressions(exclude_meta_path, require_ids=False,
                                                  normalize_text=False)
        videos = {v: m for v, m in videos.items() if v not in excluded}
    num_exps = 0
    for vid in sorted(videos):
        video = videos[vid]
        if vid not in found:
            missing['videos'].append(vid)
            continue
        for eid in sorted(video.expressions):
            num_exps += 1
            frames = found[vid].get(eid)
            if frames is None:
                missing['expressions'].append(f'{vid}/{eid}')
                continue
            for f in video.frames:
                if f in frames:
                    files.append((f'{vid}/{eid}/{f}.png', frames[f]))
                else:
                    missing['frames'].append(f'{vid}/{eid}/{f}')
            extra += [f'{vid}/{eid}/{f}.png' for f in frames if f not in set(video.frames)]
        extra += [f'{vid}/{e}/' for e in found[vid] if e not in video.expressions]
    extra += [f'{v}/' for v in found if v not in videos]
    return {'files': files, 'missing': missing, 'extra': extra, 'num_videos': len(videos),
            'num_expressions': num_exps}


def pack_submission(pred_dir: str | os.PathLike, zip_path: str | os.PathLike, *,
                    root_in_zip: str = '', meta_path: str | os.PathLike | None = None,
                    exclude_meta_path: str | os.PathLike | None = None,
                    allow_missing: bool = False, progress: bool = True) -> dict:
    """Zip ``pred_dir`` as ``<root_in_zip>/<video>/<exp_id>/<frame>.png`` (see module doc).

    Returns the plan of :func:`plan_submission` plus ``zip_path``.

    Raises:
        SubmissionError: predictions missing (unless ``allow_missing``); nothing is written.
    """
    plan = plan_submission(pred_dir, meta_path, exclude_meta_path)
    miss = plan['missing']
    n_missing = sum(len(v) for v in miss.values())
    if n_missing and not allow_missing:
        parts = [f'{len(v)} {k}: {_preview(v)}' for k, v in miss.items() if v]
        raise SubmissionError(f'{pred_dir}: predictions missing for ' + '; '.join(parts))
    if not plan['files']:
        raise SubmissionError(f'{pred_dir}: no prediction PNG found')
    prefix = f'{root_in_zip.strip("/")}/' if root_in_zip.strip('/') else ''
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_STORED) as zf:
        # PNGs are compressed already: store them
        for arc, path in tqdm(plan['files'], desc='packing', unit='png', disable=not progress):
            zf.write(path, prefix + arc)
    plan['zip_path'] = str(zip_path)
    return plan


def pack_mevis_valid(pred_dir, zip_path, meta_path=None, **kwargs) -> dict:
    """MeViS ``valid`` (server) submission: video folders at the zip root."""
    return pack_submission(pred_dir, zip_path, root_in_zip='', meta_path=meta_path, **kwargs)


def pack_ref_ytvos_valid(pred_dir, zip_path, meta_path=None, exclude_meta_path=None,
                         **kwargs) -> dict:
    """Ref-YouTube-VOS ``valid`` submission: ``Annotations/<video>/<exp_id>/<frame>.png``; pass
    ``meta_expressions/valid`` as ``meta_path`` and ``meta_expressions/test`` as
    ``exclude_meta_path`` to check the 202 valid videos."""
    return pack_submission(pred_dir, zip_path, root_in_zip='Annotations', meta_path=meta_path,
                           exclude_meta_path=exclude_meta_path, **kwargs)


def summarize_pack(plan: dict, where: str = '') -> tuple[str, list[str]]:
    """One summary line and the warnings (missing / left-out items) of a packed submission, as
    the ``tools/submission`` scripts print them."""
    summary = (f'{plan["zip_path"]}: {len(plan["files"])} masks, {plan["num_expressions"]} '
               f'expressions of {plan["num_videos"]} videos{where}')
    warnings = [f'{len(items)} {kind} missing, e.g. {", ".join(items[:5])}'
                for kind, items in plan['missing'].items() if items]
    if plan['extra']:
        warnings.append(f'left out {len(plan["extra"])} items the split does not list, e.g. '
                        f'{", ".join(plan["extra"][:5])}')
    return summary, warnings
