"""Segment a video with one or more sentences: masks, an overlay video and result.json.

``python tools/infer.py CONFIG CKPT INPUT --text "the cat jumping" [--text ...]
[--texts-file F] --out DIR [--grounding NAME] [--mplus SPANS] [--pred-file F --top-k K]
[--device DEV]``

INPUT is a video file (mp4, avi, mov, webm, mkv) or a folder of frames. Without ``--grounding``
the model grounds itself with its TAM when it has one (``oracle`` with ``--mplus``; ``none``
with a warning for a model without a TAM). See ``tgl_mm/apis/video_outputs.py`` for the outputs
(written atomically) and docs/inference.md. Errors end in one line (``--debug``: traceback).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator

from tgl_mm.utils.cli import (
    KeyValueAction,
    add_debug_flag,
    grounding_help,
    run_tool,
    sigterm_exits,
)

#: groundings that read a prediction file (``--pred-file``), with their ``--top-k`` default
FILE_GROUNDINGS = {'moment_retrieval': 1, 'hybrid': 1, 'keyframes': 4}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help="checkpoint (.pth); 'none' for the config's own "
                        'initialisation')
    parser.add_argument('input', help='video file (mp4, avi, mov, webm, mkv) or frame folder')
    parser.add_argument('--text', action='append', default=[], metavar='SENTENCE',
                        help='a referring expression (repeat for several)')
    parser.add_argument('--texts-file', metavar='FILE',
                        help='more sentences, one per line, UTF-8 (blank lines are skipped)')
    parser.add_argument('--out', required=True, metavar='DIR',
                        help='output folder (owned by this run: a second run into it is refused '
                        "while this one lives; an earlier run's outputs are replaced)")
    parser.add_argument('--grounding', metavar='NAME', help=grounding_help(
        'how M+ is chosen, a registered grounding:',
        f'With --pred-file: {" / ".join(FILE_GROUNDINGS)}. Default: oracle with --mplus, '
        'moment_retrieval with --pred-file, else tam when the model has a TAM, else none'))
    parser.add_argument('--mplus', action='append', default=[], metavar='SPANS',
                        help='M+ frames as "a-b,c,d-" (0-based, inclusive; "d-" runs to the last '
                        'frame): once for every sentence or once per sentence, in order '
                        '(oracle grounding only)')
    parser.add_argument('--pred-file', metavar='FILE',
                        help='JSON lines of a moment-retrieval model ({"qid": "video/<k>", '
                        '"pred_relevant_windows": [[start, end, score], ...]}, sentence k '
                        '0-based) for moment_retrieval and hybrid, or {"qid": ..., '
                        '"frame_scores": [...]} for keyframes; see docs/grounding.md')
    parser.add_argument('--top-k', type=int, metavar='K',
                        help='windows of each query that make M+ (moment_retrieval, the span '
                        'of hybrid; default 1) or keyframes kept (keyframes; default 4)')
    parser.add_argument('--pred-unit', choices=('frames', 'seconds'),
                        help='unit of the windows in --pred-file (default: the unit its lines '
                        'declare with "unit", else frames; seconds are converted with the '
                        "video's fps)")
    parser.add_argument('--keyframes', type=int, metavar='N',
                        help='hybrid: frames the TAM keeps inside the span (default 4)')
    parser.add_argument('--fps', type=float,
                        help='frame rate of a frame folder (video files have their own); '
                        'needed for windows in seconds')
    parser.add_argument('--device', default='cpu', help='torch device (cpu, cuda, cuda:1)')
    parser.add_argument('--no-overlay', action='store_true', help='skip overlay.mp4')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
                        help='override config entries')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def file_grounding(name: str | None, pred_file: str | None, top_k: int | None,
                   unit: str | None, keyframes: int | None) -> str | dict | None:
    """The grounding of the command line's prediction-file options (``--grounding``,
    ``--pred-file``, ``--top-k``, ``--pred-unit``, ``--keyframes``); ``name`` unchanged when
    none is given.

    Raises:
        ValueError: an option the grounding does not read, or a file grounding without
            ``--pred-file`` (naming the options).
    """
    if pred_file and name is None:
        name = 'moment_retrieval'
    if name in FILE_GROUNDINGS and not pred_file:
        raise ValueError(f'--grounding {name} reads a prediction file: give --pred-file FILE '
                         '(JSON lines, qid "video/<k>" for sentence k; see docs/grounding.md)')
    for option, value, readers in (('--pred-file', pred_file, FILE_GROUNDINGS),
                                   ('--top-k', top_k, FILE_GROUNDINGS),
                                   ('--pred-unit', unit, ('moment_retrieval', 'hybrid')),
                                   ('--keyframes', keyframes, ('hybrid',))):
        if value is not None and name not in readers:
            raise ValueError(f'{option} is read only by --grounding {" / ".join(readers)}, '
                             f'not by {name!r}')
    for option, value in (('--top-k', top_k), ('--keyframes', keyframes)):
        if value is not None and value < 1:
            raise ValueError(f'{option} must be >= 1, got {value}')
    if name not in FILE_GROUNDINGS:
        return name
    k = top_k if top_k is not None else FILE_GROUNDINGS[name]
    if name == 'keyframes':
        return dict(type='keyframes', pred_file=pred_file, top_k=k)
    span = dict(type='moment_retrieval', pred_file=pred_file, top_k=k)
    if unit is not None:
        span['unit'] = unit
    if name == 'hybrid':
        return dict(type='hybrid', span=span, keyframes=None,
                    top_k=keyframes if keyframes is not None else 4)
    return span


def check_grounding(grounding: str | dict | None) -> None:
    """Build ``grounding`` once (``unit`` aside) so an unknown name or a malformed prediction
    file fails before the model is loaded."""
    if grounding is None:
        return
    import tgl_mm.models  # noqa: F401  (registers the groundings)
    from tgl_mm.apis.grounding_choice import declared_unit
    from tgl_mm.registry import GROUNDINGS

    def without_unit(cfg: str | dict) -> dict:
        cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
        if cfg.get('unit') is not None or cfg.get('type') == 'moment_retrieval':
            declared_unit(cfg['pred_file'])
        cfg.pop('unit', None)
        if isinstance(cfg.get('span'), dict):
            cfg['span'] = without_unit(cfg['span'])
        return cfg

    cfg = without_unit(grounding)
    if GROUNDINGS.get(cfg['type']) is None:
        raise ValueError(f'--grounding {cfg["type"]!r} is not a registered grounding (one of '
                         f'{", ".join(sorted(GROUNDINGS.module_dict))})')
    GROUNDINGS.build(cfg)


@contextlib.contextmanager
def plain_warnings() -> Iterator[None]:
    """Warnings printed as ``warning: <message>`` lines (no source location)."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, *args, **kwargs: f'warning: {message}\n'
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv=None) -> dict:
    args = parse_args(argv)
    from tgl_mm.apis import init_model
    from tgl_mm.apis.output_dir import prepare_out_dir
    from tgl_mm.apis.streaming import clean_texts
    from tgl_mm.apis.video_io import open_frames
    from tgl_mm.apis.video_outputs import infer_video, read_texts_file
    from tgl_mm.utils import install_checkpoint_safety

    # everything that can be checked without the model is checked before it is loaded
    texts = list(args.text)
    if args.texts_file:
        texts += read_texts_file(args.texts_file)
    if not texts:
        raise ValueError('give at least one --text or a --texts-file')
    texts = clean_texts(texts)
    grounding = file_grounding(args.grounding, args.pred_file, args.top_k, args.pred_unit,
                               args.keyframes)
    check_grounding(grounding)
    source = open_frames(args.input, args.fps)
    prepare_out_dir(args.out, '--out', create=False)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    install_checkpoint_safety()  # weights-only loading (init_model does it too)
    with plain_warnings(), sigterm_exits():
        model = init_model(args.config, checkpoint, device=args.device,
                           cfg_options=args.cfg_options)
        record = infer_video(model, source, texts, args.out, grounding=grounding,
                             mplus_specs=args.mplus, overlay=not args.no_overlay)
    t = record['timings']
    print(f'grounding: {record["grounding"]}; {record["num_frames"]} frames x {len(texts)} '
          f'sentences in {t["total"]:.1f} s ({t["frames_per_s"]} frames/s); image-encoder '
          f'passes per frame and sentence: {record["encoder"]["passes_per_sentence"]}; '
          f'outputs in {args.out}')
    return record


if __name__ == '__main__':
    sys.exit(run_tool(main))
