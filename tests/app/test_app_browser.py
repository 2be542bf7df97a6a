"""tools/app.py in a real browser: the app is started on a free port, headless Chromium
(Selenium with the system chromedriver) uploads a generated MP4, types sentences, runs them and
finds the overlay video (decoded by the browser), the timeline plot and a zip with one PNG per
frame and sentence; a corrupt file gives an error message on the page and the server keeps
serving; two requests sent at once are both answered (queued, not lost).

Skipped, with the reason, when gradio, selenium, chromium or chromedriver is missing;
``TGL_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure. With
``TGL_APP_SCREENSHOT=PATH`` the page after the successful run is saved there (how
``docs/images/app_page.png`` was made).
"""
from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tgl_mm.utils.fileio import atomic_write_bytes

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome')
                 if shutil.which(n)), None)
CHROMEDRIVER = shutil.which('chromedriver')
MISSING = [name for name, ok in (
    ('gradio (pip install -e .[app])', importlib.util.find_spec('gradio') is not None),
    ('selenium (pip install -r requirements/app.txt)',
     importlib.util.find_spec('selenium') is not None),
    ('chromium (apt-get install chromium)', CHROMIUM is not None),
    ('chromedriver (apt-get install chromium-driver)', CHROMEDRIVER is not None)) if not ok]

if MISSING:
    reason = 'browser test needs ' + ', '.join(MISSING)
    if os.environ.get('TGL_REQUIRE_BROWSER') == '1':
        raise RuntimeError(f'TGL_REQUIRE_BROWSER=1 but the {reason}')
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.browser

STARTUP_S = 240   # generous: the machine may be shared; never asserted as a duration
REQUEST_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tiny_app_files, tmp_path_factory):
    """``tools/app.py`` in a subprocess; yields its URL and log path, stops it afterwards."""
    work = tmp_path_factory.mktemp('app_server')
    port = free_port()
    log = work / 'server.log'
    (work / 'app').mkdir()
    secret = work / 'app' / 'secret.txt'    # in the work dir, outside the app's own folders
    secret.write_text('PRIVATE')
    env = dict(os.environ, OMP_NUM_THREADS='1', GRADIO_ANALYTICS_ENABLED='False',
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    with open(log, 'wb') as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / 'tools' / 'app.py'), str(tiny_app_files['config']),
             str(tiny_app_files['checkpoint']), '--port', str(port), '--host', '127.0.0.1',
             '--work-dir', str(work / 'app'), '--examples', '1'],
            cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f'tools/app.py exited ({proc.returncode}):\n{log.read_text()[-3000:]}')
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f'tools/app.py did not serve {url}:\n{log.read_text()[-3000:]}')
            time.sleep(1)
        yield dict(url=url, log=log, proc=proc, work_dir=work / 'app', secret=secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope='module')
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1400,1150', '--mute-audio'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#video input[type=file]'))


def submit(driver, video: Path, sentences: list[str], spans: str | None = None) -> str:
    """Upload ``video``, type ``sentences`` (and, for oracle grounding, ``spans``), press
    Segment; return the final status text."""
    driver.find_element(By.CSS_SELECTOR, '#video input[type=file]').send_keys(str(video))
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(  # the upload is done
        By.CSS_SELECTOR, f'#video td.filename[aria-label="{video.name}"]'))
    box = driver.find_element(By.CSS_SELECTOR, '#sentences textarea')
    box.clear()
    box.send_keys('\n'.join(sentences))
    if spans is not None:
        driver.find_element(By.CSS_SELECTOR, '#grounding input[value="oracle"]').click()
        driver.find_element(By.CSS_SELECTOR, '#spans textarea').send_keys(spans)
    driver.find_element(By.ID, 'run').click()
    WebDriverWait(driver, REQUEST_S).until(
        lambda d: d.find_element(By.ID, 'status').text.startswith(('Done:', 'Error:')))
    return ' '.join(driver.find_element(By.ID, 'status').text.split())


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
    # the browser itself decodes the WebM (metadata loaded, real picture size)
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(
        'const v = document.querySelector("#overlay video");'
        'return v.readyState >= 1 && v.videoWidth > 0;'))
    assert browser.execute_script(   # the overlay keeps the video's exact size
        'const v = document.querySelector("#overlay video");'
        'return [v.videoWidth, v.videoHeight]') == [96, 72]

    plot = browser.find_element(By.CSS_SELECTOR, '#timeline img')
    assert browser.execute_script('return arguments[0].naturalWidth', plot) > 100

    link = browser.find_element(By.CSS_SELECTOR, '#masks-zip a[download], #masks-zip a')
    with urllib.request.urlopen(link.get_attribute('href'), timeout=30) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    pngs = sorted(n for n in archive.namelist() if n.endswith('.png'))
    assert pngs == sorted(f'masks/{k}/{t:05d}.png' for k in range(2) for t in range(num))

    target = os.environ.get('TGL_APP_SCREENSHOT')
    if target:   # the whole page, beyond the window
        size = browser.execute_script('return [document.documentElement.scrollWidth, '
                                      'document.documentElement.scrollHeight]')
        shot = browser.execute_cdp_cmd('Page.captureScreenshot', dict(
            format='png', captureBeyondViewport=True,
            clip=dict(x=0, y=0, width=size[0], height=size[1], scale=1)))
        atomic_write_bytes(target, base64.b64decode(shot['data']))


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
