"""tools/app.py in a real browser: the app is started on a free port, headless Chromium
(Selenium with the system chromedriver) uploads a generated MP4, types sentences, runs them and
finds the overlay video (decoded by the browser), the timeline plot and a zip with one PNG per
frame and sentence; a corrupt file gives an error message on the page and the server keeps
serving; two requests sent at once are both answered (queued, not lost).

Skipped, with the reason, when gradio, selenium, chromium or chromedriver is missing;
``TGL_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure. The page is driven
with :mod:`tgl_mm.app.browser`, as ``tools/analysis/app_screenshot.py`` drives it for the
screenshot in docs/app.md.
"""
from __future__ import annotations

import io
import json
import os
import urllib.error
import urllib.request
import zipfile

import pytest

from tgl_mm.app.browser import (
    REQUEST_S,
    fill_request,
    headless_chromium,
    missing_browser_parts,
    open_page,
    run_request,
    serve_app,
    upload_video,
    wait_for_overlay,
)

MISSING = missing_browser_parts()
if MISSING:
    reason = 'browser test needs ' + ', '.join(MISSING)
    if os.environ.get('TGL_REQUIRE_BROWSER') == '1':
        raise RuntimeError(f'TGL_REQUIRE_BROWSER=1 but the {reason}')
    pytest.skip(reason, allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def server(tiny_app_files, tmp_path_factory):
    """``tools/app.py`` in a subprocess; yields its URL, log path and work dir, and the path of
    a secret file in the work dir (outside the app's own folders); stops it afterwards."""
    work = tmp_path_factory.mktemp('app_server')
    (work / 'app').mkdir()
    secret = work / 'app' / 'secret.txt'    # in the work dir, outside the app's own folders
    secret.write_text('PRIVATE')
    with serve_app(tiny_app_files['config'], tiny_app_files['checkpoint'], work,
                   ['--examples', '1']) as served:
        yield dict(served, secret=secret)


@pytest.fixture(scope='module')
def browser():
    with headless_chromium() as driver:
        yield driver


def submit(driver, video, sentences: list[str], spans: str | None = None) -> str:
    """Upload ``video``, type ``sentences`` (and, for oracle grounding, ``spans``), press
    Segment; return the final status text."""
    upload_video(driver, video)
    fill_request(driver, sentences, None if spans is None else 'oracle', spans)
    return run_request(driver)


def test_corrupt_file_then_a_video_in_the_browser(server, browser, tiny_app_files, tmp_path):
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(4000))
    open_page(browser, server['url'])
    status = submit(browser, corrupt, ['the red circle'])
    assert status.startswith('Error:') and 'corrupt.mp4' in status, status
    assert browser.find_elements(By.CSS_SELECTOR, '#overlay video') == []

    # the server keeps serving: a fresh page, a real video, two sentences
    open_page(browser, server['url'])
    num = tiny_app_files['num_frames']
    status = submit(browser, tiny_app_files['video'], ['the circle moving', 'the square'],
                    spans='2-6\n0-1,8-11')
    assert status.startswith(f'Done: {num} frames x 2 sentence(s), grounding oracle'), status

    video = browser.find_element(By.CSS_SELECTOR, '#overlay video')
    assert video.get_attribute('src').endswith('overlay.webm')
    # the browser itself decodes the WebM (metadata loaded, real picture size), which keeps
    # the video's exact size; the timeline plot is drawn
    assert wait_for_overlay(browser) == (96, 72)
    plot = browser.find_element(By.CSS_SELECTOR, '#timeline img')
    assert browser.execute_script('return arguments[0].naturalWidth', plot) > 100

    link = browser.find_element(By.CSS_SELECTOR, '#masks-zip a[download], #masks-zip a')
    with urllib.request.urlopen(link.get_attribute('href'), timeout=30) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    pngs = sorted(n for n in archive.namelist() if n.endswith('.png'))
    assert pngs == sorted(f'masks/{k}/{t:05d}.png' for k in range(2) for t in range(num))


def test_two_requests_at_once_are_both_answered(server, tiny_app_files):
    """Gradio's queue: a request sent while another runs waits and is answered, not lost."""
    from gradio_client import Client, handle_file

    client = Client(server['url'], verbose=False)
    video = handle_file(str(tiny_app_files['video']))
    jobs = [client.submit(video, text, 'oracle', spans, None, 1, api_name='/segment')
            for text, spans in (('the circle', '0-3'), ('the square', '5-8'))]
    results = [job.result(timeout=REQUEST_S) for job in jobs]
    for (status, _, _, masks_zip), text, span in zip(
            results, ('the circle', 'the square'), ([0, 3], [5, 8])):
        assert status.startswith('**Done:**') and 'grounding `oracle`' in status, status
        with zipfile.ZipFile(masks_zip) as archive:   # each answer is its own request's
            (sentence,) = json.loads(archive.read('result.json'))['sentences']
        assert sentence['text'] == text and sentence['mplus_spans'] == [span]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_the_apps_folders_are_served(server):
    """A file in --work-dir (outside requests/ and examples/) is not downloadable; the app's
    example video is."""
    base = f'{server["url"]}gradio_api/file='
    assert _status(base + str(server['secret'].resolve())) != 200
    example = next((server['work_dir'] / 'examples').glob('synthetic_*.mp4'))
    assert _status(base + str(example.resolve())) == 200
