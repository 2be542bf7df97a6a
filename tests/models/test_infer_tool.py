"""tools/infer.py: a generated MP4 and two sentences in; masks, overlay.mp4 and result.json out."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tgl_mm.apis.video_io import VideoInputError
from tgl_mm.apis.video_outputs import (
    colour,
    infer_video,
    parse_spans,
    read_texts_file,
    render_overlay_frame,
)

REPO = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location('tool_infer', REPO / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tiny_infer_files):
    return tiny_infer_files


def test_infer_tool_writes_three_outputs(setup, tmp_path):
    out = tmp_path / 'out'
    record = load_tool().main([str(setup['config']), str(setup['ckpt']), str(setup['video']),
                               '--text', 'the blue square', '--text', 'the background',
                               '--mplus', '2-5,8', '--out', str(out)])
    saved = json.loads((out / 'result.json').read_text())
    assert saved == record
    assert saved['num_frames'] == 10 and saved['fps'] == pytest.approx(8.0)
    assert saved['grounding'] == 'oracle' and len(saved['sentences']) == 2
    first = saved['sentences'][0]
    assert first['text'] == 'the blue square' and first['mplus_frames'] == [2, 3, 4, 5, 8]
    assert first['mplus_spans'] == [[2, 5], [8, 8]] and len(first['object_scores']) == 10
    assert first['frame_scores'] is None
    for k in range(2):
        files = sorted((out / 'masks' / str(k)).iterdir())
        assert [f.name for f in files] == [f'{t:05d}.png' for t in range(10)]
        assert cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE).shape == (40, 56)
    capture = cv2.VideoCapture(str(out / 'overlay.mp4'))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 10
    assert not list(out.glob('.partial-*')) and saved['timings']['total'] > 0


def test_killed_run_leaves_no_result(setup, tmp_path, monkeypatch):
    """A run that dies while segmenting removes a stale result.json and writes none."""
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'result.json').write_text('{"old": 1}')
    import tgl_mm.apis.video_outputs as vo

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vo, 'write_overlay', boom)
    with pytest.raises(KeyboardInterrupt):
        infer_video(setup['model'], setup['video'], ['a cat'], out, progress=False)
    assert not (out / 'result.json').exists() and not (out / 'masks').exists()
    assert not list(out.glob('.partial-*'))


def test_bad_inputs(setup, tmp_path):
    model = setup['model']
    with pytest.raises(FileNotFoundError, match='nothing.mp4'):
        infer_video(model, tmp_path / 'nothing.mp4', ['a'], tmp_path / 'o', progress=False)
    broken = tmp_path / 'broken.mkv'
    broken.write_bytes(b'\x00' * 500)
    with pytest.raises(VideoInputError, match='broken.mkv'):
        infer_video(model, broken, ['a'], tmp_path / 'o', progress=False)
    with pytest.raises(ValueError, match='out of range'):
        infer_video(model, setup['video'], ['a'], tmp_path / 'o', mplus_specs=['3-12'],
                    progress=False)
    with pytest.raises(ValueError, match='empty'):
        infer_video(model, setup['video'], ['a', ''], tmp_path / 'o', progress=False)
    with pytest.raises(ValueError, match='once per sentence'):
        infer_video(model, setup['video'], ['a', 'b', 'c'], tmp_path / 'o',
                    mplus_specs=['1', '2'], progress=False)
    assert not (tmp_path / 'o' / 'result.json').exists()


def test_texts_file_and_spans(tmp_path):
    path = tmp_path / 'texts.txt'
    path.write_text('the cat\n\n  \nthe dog on the left\n')
    with pytest.warns(UserWarning, match='blank line'):
        assert read_texts_file(path) == ['the cat', 'the dog on the left']
    assert parse_spans('0-2, 5', 6).tolist() == [True, True, True, False, False, True]
    with pytest.raises(ValueError, match='not "a-b"'):
        parse_spans('x-2', 6)


def test_overlay_frame_layout():
    """The overlay frame keeps the frame's exact size: legend rows over its top, M+ strips over
    its bottom (thinner on a small frame), the masks between; the input is not drawn on."""
    frame = np.zeros((20, 30, 3), np.uint8)
    masks = [np.ones((20, 30), bool), np.zeros((20, 30), bool)]
    image = render_overlay_frame(frame, masks, ['a', 'b'], [np.ones(5, bool)] * 2, 2)
    assert image.shape == (20, 30, 3) and not frame.any()
    assert image[12, 15].any()  # the first mask is drawn between the legend and the strips
    big = render_overlay_frame(np.zeros((240, 320, 3), np.uint8), [np.zeros((240, 320), bool)],
                               ['a'], [np.array([0, 1, 1, 0], bool)], 0)
    assert big.shape == (240, 320, 3)
    # the strip: 8 rows at the bottom, frames 1-2 of 4 in M+ in colour 0, the rest dark grey
    assert tuple(big[236, 120]) == colour(0) and tuple(big[236, 300]) == (30, 30, 30)
    assert tuple(big[236, 0]) == (255, 255, 255)          # the cursor at frame 0
    assert not big[100, 100].any()   # the frame itself is left alone


def test_webm_overlay_and_grounding_config(setup, tmp_path):
    """``overlay_name='overlay.webm'`` writes a VP8 WebM (what browsers play) with every frame;
    a grounding given as a config dict is recorded by its type; a bad overlay name fails first."""
    out = tmp_path / 'out'
    record = infer_video(setup['model'], setup['video'], ['the blue square'], out,
                         grounding={'type': 'none'}, progress=False,
                         overlay_name='overlay.webm')
    assert record['grounding'] == 'none' and not (out / 'overlay.mp4').exists()
    capture = cv2.VideoCapture(str(out / 'overlay.webm'))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 10
    assert (out / 'overlay.webm').read_bytes()[:4] == b'\x1a\x45\xdf\xa3'  # EBML (Matroska/WebM)
    for name in ('overlay.avi', 'sub/overlay.mp4'):
        with pytest.raises(ValueError, match='overlay_name'):
            infer_video(setup['model'], setup['video'], ['x'], tmp_path / 'bad',
                        progress=False, overlay_name=name)
    assert not (tmp_path / 'bad').exists()
