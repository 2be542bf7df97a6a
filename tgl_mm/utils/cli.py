"""Command-line plumbing shared by the tools: one-line errors and checked ``KEY=VALUE`` options.

- :func:`run_tool` runs a tool's ``main``: an exception ends the process with one line on stderr
  (``error: <Type>: <message>``) and exit status 1, instead of a traceback; ``--debug`` (or
  ``TGL_MM_DEBUG=1``) lets the traceback through. The traceback also goes to the run's log
  file when a Runner set one up.
- :class:`KeyValueAction` is mmengine's ``DictAction`` that rejects an item without ``=`` with
  an argparse usage error (mmengine raises an unpacking ``ValueError``).
- :func:`sigterm_exits` turns SIGTERM (``kill``, a scheduler's stop) into ``SystemExit(143)``
  inside the ``with`` block, so ``finally`` clauses clean up exactly as for Ctrl-C instead of
  the process vanishing with its temporary files.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections import UserString
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mmengine.config import DictAction

__all__ = ['DEBUG_FLAG', 'KeyValueAction', 'LazyText', 'add_debug_flag', 'error_line',
           'grounding_help', 'run_tool', 'sigterm_exits', 'SIGTERM_STATUS']

#: the flag that keeps tracebacks
DEBUG_FLAG = '--debug'
#: exit status after SIGTERM (128 + the signal number, as shells report it)
SIGTERM_STATUS = 128 + signal.SIGTERM


class KeyValueAction(DictAction):
    """``DictAction`` that refuses an item without ``=`` with a usage error naming it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str] | str | None, option_string: str | None = None) -> None:
        items = [values] if isinstance(values, str) else list(values or [])
        for item in items:
            if '=' not in item or item.startswith('='):
                parser.error(f'{option_string}: expected KEY=VALUE, got {item!r}')
        super().__call__(parser, namespace, values, option_string)


class LazyText(UserString):
    """A string made when first read, e.g. an argparse ``help`` listing registry entries: it is
    built only when ``--help`` is printed, so parsing the command line imports nothing more."""

    def __init__(self, make: Callable[[], str] | str) -> None:  # no super().__init__: lazy
        # (str methods of UserString build new instances from a plain string)
        self._make = make if callable(make) else None
        self._text: str | None = None if callable(make) else str(make)

    @property
    def data(self) -> str:
        if self._text is None:
            self._text = self._make()
        return self._text

    def __mod__(self, args: Any) -> str:   # argparse fills its %(default)s: a plain str out
        return self.data % args


def grounding_help(intro: str, outro: str = '') -> LazyText:
    """The help of a ``--grounding NAME`` option: ``intro``, then every registered grounding
    with what it does (:func:`~tgl_mm.registry.registered_groundings`, the one list
    of names), then ``outro``; made when ``--help`` is printed."""
    def make() -> str:
        from tgl_mm.registry import registered_groundings
        names = '; '.join(f'{name}: {cls.describe()}'
                          for name, cls in registered_groundings().items())
        return f'{intro} {names}{". " + outro if outro else ""}'.replace('%', '%%')
    return LazyText(make)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug`` (read by :func:`run_tool`) to a tool's parser."""
    parser.add_argument(DEBUG_FLAG, action='store_true',
                        help='show the full traceback of an error (default: one line)')


def error_line(err: BaseException) -> str:
    """``error: <Type>: <message>`` on one line (KeyError's quotes removed)."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    text = ' | '.join(ln.strip() for ln in str(message).strip().splitlines() if ln.strip())
    return f'error: {type(err).__name__}: {text or "(no message)"}'


def _log_traceback(err: BaseException) -> str | None:
    """Write the traceback to the current mmengine log file, if there is one; return its path."""
    try:
        from mmengine.logging import MMLogger

        logger = MMLogger.get_current_instance()
        log_file = getattr(logger, 'log_file', None)
        if not log_file:
            return None
        for handler in logger.handlers:  # the file only: the console gets one line
            if getattr(handler, 'baseFilename', None):
                handler.handle(logger.makeRecord(
                    logger.name, 40, __file__, 0, ''.join(traceback.format_exception(err)),
                    None, None))
        return log_file
    except Exception:  # the log is a convenience: never hide the original error
        return None


def run_tool(main: Callable[[list[str] | None], Any], argv: list[str] | None = None) -> int:
    """Run ``main(argv)`` as a command; return the exit status (see the module doc)."""
    args = sys.argv[1:] if argv is None else argv
    debug = DEBUG_FLAG in args or os.environ.get('TGL_MM_DEBUG') == '1'
    try:
        result = main(args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        if debug:
            raise
        log_file = _log_traceback(err)
        where = f'; traceback in {log_file}' if log_file else ''
        print(f'{error_line(err)} ({DEBUG_FLAG} shows the traceback{where})', file=sys.stderr)
        return 1
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM handler: unwind the stack (running ``finally`` clauses) and exit 143."""
    print('terminated (SIGTERM): cleaning up', file=sys.stderr, flush=True)
    raise SystemExit(SIGTERM_STATUS)


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` in the main thread, so cleanup in
    ``finally`` clauses and context managers runs as it does for Ctrl-C. Outside the main thread
    (signals cannot be handled there) it does nothing. The previous handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
