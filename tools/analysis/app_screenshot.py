"""The screenshot of the browser demo in docs/app.md and the README: ``tools/app.py`` on a
model, one of its synthetic examples run in headless Chromium, the whole page saved as a PNG.

    python tools/analysis/app_screenshot.py configs/tgl/tgl_tiny_synthetic_tam.py \
        work_dirs/demo/iter_800_tam.pth [--example 0] [--sentence TEXT ...] \
        [--grounding auto] [--at 0.5] [--out docs/images/app_page.png]

It starts the app on a free loopback port (``--examples`` as many as ``--example`` needs, a
temporary ``--work-dir``), opens the page in the system's headless chromium through Selenium
and chromedriver, picks the synthetic example (which fills its video, its sentences and their
true spans), replaces the sentences by ``--sentence`` if given, chooses ``--grounding``
(``auto``, the page's default: the model grounds itself with its TAM; every grounding but
``oracle`` empties the spans box), presses Segment, waits until the browser has decoded the
overlay video and drawn the timeline, pauses the overlay at ``--at`` of its length and saves the
page, atomically. Missing chromium, chromedriver, selenium, gradio, config or checkpoint end in
one line, ``error: ...`` (``--debug``: the traceback). Drives the page with
:mod:`tgl_mm.app.browser`, as ``tests/app/test_app_browser.py`` does.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tgl_mm.utils.cli import add_debug_flag, run_tool

DEFAULT_OUT = 'docs/images/app_page.png'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config (e.g. configs/tgl/tgl_tiny_synthetic_tam.py)')
    parser.add_argument('checkpoint', help='its checkpoint (e.g. work_dirs/demo/iter_800_tam.pth, '
                        'what make demo trains)')
    parser.add_argument('--example', type=int, default=0,
                        help='which synthetic example of the page (0-based, default 0)')
    parser.add_argument('--sentence', action='append', metavar='TEXT',
                        help="a sentence to type instead of the example's (repeat for more)")
    parser.add_argument('--grounding', default='auto',
                        help="the page's grounding choice (default auto: the model's TAM)")
    parser.add_argument('--at', type=float, default=0.5,
                        help='where to pause the overlay video, as a fraction of its length '
                        '(default 0.5)')
    parser.add_argument('--width', type=int, default=1400, help='browser window width')
    parser.add_argument('--height', type=int, default=1150, help='browser window height')
    parser.add_argument('--out', default=DEFAULT_OUT, help=f'the PNG (default {DEFAULT_OUT})')
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.example < 0:
        parser.error('--example must be >= 0')
    if not 0.0 <= args.at <= 1.0:
        parser.error('--at must be in [0, 1]')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tgl_mm.app.browser import (
        fill_request,
        headless_chromium,
        missing_browser_parts,
        open_page,
        pick_example,
        run_request,
        save_page_screenshot,
        serve_app,
        wait_for_overlay,
    )

    missing = missing_browser_parts()
    if missing:
        raise RuntimeError('the screenshot needs ' + ', '.join(missing))
    for kind, path in (('config', args.config), ('checkpoint', args.checkpoint)):
        if not Path(path).is_file():
            raise FileNotFoundError(f'{kind} not found: {path}' + (
                ' (make demo trains it)' if kind == 'checkpoint' else ''))
    with tempfile.TemporaryDirectory(prefix='tgl_mm_app_shot_') as work, \
            serve_app(args.config, args.checkpoint, work,
                      ['--examples', str(args.example + 1)]) as served, \
            headless_chromium(args.width, args.height) as driver:
        open_page(driver, served['url'])
        name = pick_example(driver, args.example)
        fill_request(driver, args.sentence, args.grounding,
                     None if args.grounding == 'oracle' else '')
        status = run_request(driver)
        if not status.startswith('Done:'):
            raise RuntimeError(f'the request failed: {status}')
        width, height = wait_for_overlay(driver, at_fraction=args.at)
        out = save_page_screenshot(driver, args.out)
        sentences = driver.execute_script(
            'return document.querySelector("#sentences textarea").value').splitlines()
    print(f'{out}: {name!r}, sentences {sentences}, overlay {width}x{height} at {args.at:g}; '
          f'{status}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
