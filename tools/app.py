"""A browser demo: upload a video, type sentences, watch the masks and the moments.

``python tools/app.py CONFIG CKPT [--port P] [--host H] [--work-dir DIR] [--device DEV]``

Needs the ``app`` extra (``pip install -e .[app]``). Open ``http://HOST:PORT`` (default
``http://127.0.0.1:7860``); see docs/app.md (remote GPU machines: an SSH tunnel).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help="checkpoint (.pth); 'none' for the config's own "
                        'initialisation')
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to listen on (default 127.0.0.1: this machine only; '
                        '0.0.0.0: every interface)')
    parser.add_argument('--port', type=int, default=7860, help='port (default 7860)')
    parser.add_argument('--work-dir', metavar='DIR',
                        help='request outputs and examples (default: a new temporary folder)')
    parser.add_argument('--device', default='cpu', help='torch device (cpu, cuda, cuda:1)')
    parser.add_argument('--examples', type=int, default=3,
                        help='synthetic example videos to offer (default 3; 0: none)')
    parser.add_argument('--max-queue', type=int, default=16,
                        help='requests that may wait while one runs (default 16)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        from tgl_mm.app.page import DemoApp, launch
    except ImportError as e:
        sys.exit(f'tools/app.py needs the app extra: pip install -e .[app] ({e})')
    from tgl_mm.apis import init_model

    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='tgl_mm_app_')
    print(f'[tools/app.py] outputs in {work_dir}', flush=True)
    launch(DemoApp(model, work_dir, num_examples=args.examples), host=args.host,
           port=args.port, max_queue=args.max_queue)


if __name__ == '__main__':
    main()
