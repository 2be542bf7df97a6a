"""Drive ``tools/app.py`` in headless Chromium: what the browser test and the docs screenshot
(``tools/analysis/app_screenshot.py``) share.

- :func:`missing_browser_parts`: what is missing to drive the page (gradio, selenium, chromium,
  chromedriver), each with how to install it;
- :func:`serve_app`: ``tools/app.py`` in a subprocess on a free loopback port, until the ``with``
  block ends;
- :func:`headless_chromium`: a Selenium driver on the system chromium and chromedriver (never a
  self-downloaded browser: that fails offline);
- :func:`open_page`, :func:`upload_video`, :func:`pick_example`, :func:`fill_request`,
  :func:`run_request`: one request through the page, as a user makes it;
- :func:`wait_for_overlay`, :func:`save_page_screenshot`: the result on screen, and the whole
  page as a PNG (written atomically).

Needs ``selenium`` (``make install-app``) only when a driver is made; importing this module
needs nothing beyond the standard library.
"""
from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tgl_mm.utils.fileio import atomic_write_bytes

REPO = Path(__file__).resolve().parents[2]
APP = REPO / 'tools' / 'app.py'
BROWSER_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
#: generous: the machine may be shared; never asserted as a duration
STARTUP_S = 240
REQUEST_S = 240


def chromium_path() -> str | None:
    """The system Chromium (or Chrome) executable, if any."""
    return next((shutil.which(n) for n in BROWSER_NAMES if shutil.which(n)), None)


def missing_browser_parts() -> list[str]:
    """What driving the page needs and is missing, each with how to install it (empty: all
    there)."""
    return [name for name, ok in (
        ('gradio (make install-app)', importlib.util.find_spec('gradio') is not None),
        ('selenium (make install-app)', importlib.util.find_spec('selenium') is not None),
        ('chromium (apt-get install chromium)', chromium_path() is not None),
        ('chromedriver (apt-get install chromium-driver)', shutil.which('chromedriver')
         is not None)) if not ok]


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(config: str | os.PathLike, checkpoint: str | os.PathLike,
              work_dir: str | os.PathLike, args: Sequence[str] = (),
              startup_s: float = STARTUP_S) -> Iterator[dict[str, Any]]:
    """Run ``tools/app.py CONFIG CHECKPOINT`` on a free loopback port with its ``--work-dir``
    ``work_dir/app`` (and its log in ``work_dir/server.log``) until the block ends; relative
    ``config`` and ``checkpoint`` are from the current directory; the app runs from the
    repository root, as a user starts it (a config's relative paths, ``checkpoints/...``, are
    from there).

    Yields ``url``, ``log`` (path), ``proc`` and ``work_dir`` (the app's). Raises
    ``RuntimeError`` with the end of the log when the app exits or does not serve within
    ``startup_s``.
    """
    work = Path(work_dir)
    app_dir = work / 'app'
    app_dir.mkdir(parents=True, exist_ok=True)
    log = work / 'server.log'
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False',
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.setdefault('OMP_NUM_THREADS', '1')
    with open(log, 'wb') as out:
        proc = subprocess.Popen(
            [sys.executable, str(APP), str(Path(config).resolve()),
             checkpoint if str(checkpoint).lower() == 'none' else str(Path(checkpoint).resolve()),
             '--port', str(port),
             '--host', '127.0.0.1', '--work-dir', str(app_dir), *args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f'tools/app.py exited ({proc.returncode}):\n'
                                   f'{log.read_text(errors="replace")[-3000:]}')
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f'tools/app.py did not serve {url}:\n'
                                   f'{log.read_text(errors="replace")[-3000:]}')
            time.sleep(1)
        yield dict(url=url, log=log, proc=proc, work_dir=app_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def headless_chromium(width: int = 1400, height: int = 1150) -> Iterator[Any]:
    """A Selenium Chrome driver on the system chromium and chromedriver, headless, with a
    ``width`` x ``height`` window; quit when the block ends."""
    missing = missing_browser_parts()
    if missing:
        raise RuntimeError('driving the page needs ' + ', '.join(missing))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path()
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                f'--window-size={width},{height}', '--mute-audio'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, seconds: float, until: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, seconds).until(until)


def _css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver: Any, url: str) -> None:
    """Load the page and wait until its video upload is there."""
    driver.get(url)
    _wait(driver, 60, lambda d: _css(d, '#video input[type=file]'))


def upload_video(driver: Any, video: str | os.PathLike) -> None:
    """Upload ``video`` into the page's video field and wait until it is listed."""
    video = Path(video)
    _css(driver, '#video input[type=file]')[0].send_keys(str(video))
    _wait(driver, 60, lambda d: _css(d, f'#video td.filename[aria-label="{video.name}"]'))


def pick_example(driver: Any, index: int) -> str:
    """Choose the ``index``-th synthetic example in its dropdown (it fills the video, sentences,
    ``oracle`` and the true spans) and wait until the video is filled; return its name."""
    from selenium.webdriver.common.keys import Keys

    box = _css(driver, '#example input')[0]
    box.click()
    options = _wait(driver, 30, lambda d: _css(d, '[role=option]'))
    if not 0 <= index < len(options):
        raise ValueError(f'no synthetic example {index}: the page offers {len(options)}')
    name = options[index].get_attribute('aria-label') or options[index].text
    options[index].click()
    box.send_keys(Keys.ESCAPE)
    _wait(driver, 60, lambda d: _css(d, '#video td.filename'))
    _wait(driver, 30, lambda d: _css(d, '#sentences textarea')[0].get_attribute('value'))
    return name.strip()


def _set_text(box: Any, text: str) -> None:
    """Replace a text field's content by ``text`` with key strokes (the page hears them; a
    bare ``clear()`` sends no input event, so an emptied field would keep its old value)."""
    from selenium.webdriver.common.keys import Keys

    # focus, not click: just after an upload the page's blocks still move, and a click can land
    # on the one sliding over the field
    box.parent.execute_script(
        'arguments[0].scrollIntoView({block: "center"}); arguments[0].focus();', box)
    box.send_keys(Keys.CONTROL, 'a')
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def fill_request(driver: Any, sentences: Sequence[str] | None = None,
                 grounding: str | None = None, spans: str | None = None) -> None:
    """Type ``sentences`` (one per line; ``None``: keep the field), choose ``grounding``
    (``None``: keep it) and set the M+ spans box to ``spans`` (``None``: keep it, ``''``:
    empty it, as every grounding but the span ones requires)."""
    if sentences is not None:
        _set_text(_css(driver, '#sentences textarea')[0], '\n'.join(sentences))
    if grounding is not None:
        choice = _css(driver, f'#grounding input[value="{grounding}"]')
        if not choice:
            raise ValueError(f'the page has no grounding {grounding!r}')
        choice[0].click()
    if spans is not None:
        _set_text(_css(driver, '#spans textarea')[0], spans)


def run_request(driver: Any, timeout_s: float = REQUEST_S) -> str:
    """Press Segment and wait for the final status; return it (whitespace collapsed)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, 'run').click()
    _wait(driver, timeout_s, lambda d: d.find_element(By.ID, 'status').text.startswith(
        ('Done:', 'Error:')))
    return ' '.join(driver.find_element(By.ID, 'status').text.split())


def wait_for_overlay(driver: Any, at_fraction: float | None = None) -> tuple[int, int]:
    """Wait until the browser has decoded the overlay video (its metadata and size) and its
    timeline plot; with ``at_fraction`` pause the video there (0: first frame, 1: last) and
    wait for that frame. Returns the video's (width, height)."""
    _wait(driver, 60, lambda d: d.execute_script(
        'const v = document.querySelector("#overlay video");'
        'return v !== null && v.readyState >= 1 && v.videoWidth > 0;'))
    _wait(driver, 60, lambda d: d.execute_script(
        'const p = document.querySelector("#timeline img");'
        'return p !== null && p.complete && p.naturalWidth > 0;'))
    if at_fraction is not None:
        driver.execute_script(
            'const v = document.querySelector("#overlay video"); v.pause();'
            'window.__tglSeeked = false;'
            'v.addEventListener("seeked", () => { window.__tglSeeked = true; }, {once: true});'
            'v.currentTime = Math.min(v.duration * arguments[0], v.duration - 0.05);',
            at_fraction)
        _wait(driver, 60, lambda d: d.execute_script(
            'const v = document.querySelector("#overlay video");'
            'return window.__tglSeeked && v.readyState >= 2;'))
    return tuple(driver.execute_script(
        'const v = document.querySelector("#overlay video");'
        'return [v.videoWidth, v.videoHeight]'))


def save_page_screenshot(driver: Any, target: str | os.PathLike) -> Path:
    """The whole page (beyond the window) as a PNG at ``target``, written atomically."""
    size = driver.execute_script('return [document.documentElement.scrollWidth, '
                                 'document.documentElement.scrollHeight]')
    shot = driver.execute_cdp_cmd('Page.captureScreenshot', dict(
        format='png', captureBeyondViewport=True,
        clip=dict(x=0, y=0, width=size[0], height=size[1], scale=1)))
    atomic_write_bytes(target, base64.b64decode(shot['data']))
    return Path(target)


__all__ = ['REQUEST_S', 'STARTUP_S', 'chromium_path', 'fill_request', 'free_port',
           'headless_chromium', 'missing_browser_parts', 'open_page', 'pick_example',
           'run_request', 'save_page_screenshot', 'serve_app', 'upload_video',
           'wait_for_overlay']
