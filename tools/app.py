"""A browser demo: upload a video, type sentences, watch the masks and the moments.

``python tools/app.py CONFIG CKPT [--port P] [--host H] [--work-dir DIR] [--device DEV]
[--max-sentences N] [--max-upload-mb MB] [--max-frame-megapixels MP]
[--max-video-megapixels MP] [--max-seconds S]``

Needs the ``app`` extra (``pip install -e .[app]``). Open ``http://HOST:PORT`` (default
``http://127.0.0.1:7860``); see docs/app.md (remote GPU machines: an SSH tunnel). The page
serves files only from its own folders under the work dir (``requests/``, ``examples/``).
Start-up errors end in one line (``--debug``: the traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from tgl_mm.utils.cli import KeyValueAction, add_debug_flag, run_tool


def parse_args(argv=None) -> argparse.Namespace:
    from tgl_mm.app.limits import AppLimits

    default = AppLimits()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help="checkpoint (.pth); 'none' for the config's own "
                        'initialisation')
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to listen on (default 127.0.0.1: this machine only; '
                        '0.0.0.0: every interface)')
    parser.add_argument('--port', type=int, default=7860, help='port (default 7860)')
    parser.add_argument('--work-dir', metavar='DIR',
                        help='the app\'s folders go under it (requests/, examples/: the only '
                        'ones the page serves, refused if they hold other files); default: a '
                        'new temporary folder')
    parser.add_argument('--device', default='cpu', help='torch device (cpu, cuda, cuda:1)')
    parser.add_argument('--examples', type=int, default=3,
                        help='synthetic example videos to offer (default 3; 0: none)')
    parser.add_argument('--max-queue', type=int, default=16,
                        help='requests that may wait while one runs (default 16)')
    parser.add_argument('--max-sentences', type=int, default=default.max_sentences,
                        help=f'sentences per request (default {default.max_sentences})')
    parser.add_argument('--max-upload-mb', type=float, default=default.max_upload_mb,
                        help=f'size of an uploaded video in MB (default '
                        f'{default.max_upload_mb:g})')
    parser.add_argument('--max-frame-megapixels', type=float,
                        default=default.max_frame_megapixels,
                        help='height x width of one frame, in megapixels (default '
                        f'{default.max_frame_megapixels:g})')
    parser.add_argument('--max-video-megapixels', type=float,
                        default=default.max_video_megapixels,
                        help='frames x height x width of a video, in megapixels (default '
                        f'{default.max_video_megapixels:g})')
    parser.add_argument('--max-seconds', type=float, default=default.max_seconds,
                        help=f'time of one request (default {default.max_seconds:g} s)')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, metavar='KEY=VALUE',
                        help='override config entries')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def limits_from_args(args: argparse.Namespace):
    """The :class:`~tgl_mm.app.limits.AppLimits` of the command line (checked: positive)."""
    from tgl_mm.app.limits import AppLimits

    return AppLimits(max_sentences=args.max_sentences, max_upload_mb=args.max_upload_mb,
                     max_frame_megapixels=args.max_frame_megapixels,
                     max_video_megapixels=args.max_video_megapixels,
                     max_seconds=args.max_seconds)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    limits = limits_from_args(args)
    from tgl_mm.app.limits import check_own_folders

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='tgl_mm_app_')
    check_own_folders(work_dir)      # before the model: a wrong --work-dir costs nothing
    try:
        from tgl_mm.app.page import DemoApp, launch
    except ImportError as e:
        raise RuntimeError(f'tools/app.py needs the app extra: make install-app, or pip install '
                           f'-e .[app] ({e})') from None
    from tgl_mm.apis import init_model
    from tgl_mm.apis.grounding_choice import default_grounding, grounding_name
    from tgl_mm.utils import install_checkpoint_safety

    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    install_checkpoint_safety()  # weights-only loading (init_model does it too)
    model = init_model(args.config, checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    grounding, warning = default_grounding(model, has_spans=False)
    grounding = f'{grounding_name(grounding)} ({warning or "the model grounds itself"})'
    print(f'[tools/app.py] outputs in {work_dir}; default grounding: {grounding}', flush=True)
    launch(DemoApp(model, work_dir, num_examples=args.examples, limits=limits), host=args.host,
           port=args.port, max_queue=args.max_queue)


if __name__ == '__main__':
    sys.exit(run_tool(main))
