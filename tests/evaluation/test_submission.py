"""Submission zips: MeViS (video folders at the root) and Ref-YouTube-VOS (Annotations/)."""
import json
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tgl_mm.evaluation.submission import SubmissionError, pack_mevis_valid, pack_ref_ytvos_valid
from tgl_mm.formats import write_expression_masks

REPO = Path(__file__).resolve().parents[2]


def meta(videos):
    return {'videos': {v: {'frames': frames, 'expressions': {
        e: {'exp': f'expression {e}'} for e in exps}} for v, (frames, exps) in videos.items()}}


@pytest.fixture
def preds(tmp_path):
    pred = tmp_path / 'pred'
    m = np.zeros((2, 4, 5), bool)
    m[:, 1:3, 1:4] = True
    write_expression_masks(pred, 'v1', '0', ['00000', '00005'], m)
    write_expression_masks(pred, 'v1', '1', ['00000', '00005'], m)
    write_expression_masks(pred, 'v2', '0', ['00000'], m[:1])
    write_expression_masks(pred, 'vtest', '0', ['00000'], m[:1])
    (tmp_path / 'valid.json').write_text(json.dumps(meta({
        'v1': (['00000', '00005'], ['0', '1']), 'v2': (['00000'], ['0']),
        'vtest': (['00000'], ['0'])})))
    (tmp_path / 'test.json').write_text(json.dumps(meta({'vtest': (['00000'], ['0'])})))
    return tmp_path


def test_mevis_zip_has_videos_at_root(preds):
    out = preds / 'sub.zip'
    plan = pack_mevis_valid(preds / 'pred', out, meta_path=preds / 'valid.json', progress=False)
    names = sorted(zipfile.ZipFile(out).namelist())
    assert names == ['v1/0/00000.png', 'v1/0/00005.png', 'v1/1/00000.png', 'v1/1/00005.png',
                     'v2/0/00000.png', 'vtest/0/00000.png']
    assert plan['num_expressions'] == 4


def test_ref_ytvos_zip_under_annotations_without_test_videos(preds):
    out = preds / 'ytvos.zip'
    plan = pack_ref_ytvos_valid(preds / 'pred', out, meta_path=preds / 'valid.json',
                                exclude_meta_path=preds / 'test.json', progress=False)
    names = sorted(zipfile.ZipFile(out).namelist())
    assert names[0] == 'Annotations/v1/0/00000.png' and len(names) == 5
    assert not any('vtest' in n for n in names)
    assert plan['extra'] == ['vtest/']


def test_missing_predictions_are_listed_and_nothing_written(preds):
    (preds / 'pred' / 'v1' / '1' / '00005.png').unlink()
    out = preds / 'sub.zip'
    with pytest.raises(SubmissionError, match=r'1 frames: v1/1/00005'):
        pack_mevis_valid(preds / 'pred', out, meta_path=preds / 'valid.json', progress=False)
    assert not out.exists() and not list(preds.glob('.sub.zip*'))
    plan = pack_mevis_valid(preds / 'pred', out, meta_path=preds / 'valid.json',
                            allow_missing=True, progress=False)
    assert plan['missing']['frames'] == ['v1/1/00005'] and out.exists()


def test_without_meta_packs_everything(preds):
    out = preds / 'all.zip'
    plan = pack_mevis_valid(preds / 'pred', out, progress=False)
    assert len(plan['files']) == 6 and len(zipfile.ZipFile(out).namelist()) == 6


def _tool(name):
    return runpy.run_path(str(REPO / 'tools' / 'submission' / name), run_name='tool')['main']


def test_cli(preds, capsys):
    out = preds / 'cli.zip'
    assert _tool('pack_ref_ytvos.py')([str(preds / 'pred'), str(out), '--meta',
                                       str(preds / 'valid.json'), '--exclude-meta',
                                       str(preds / 'test.json')]) == 0
    assert 'left out 1 items' in capsys.readouterr().err
    assert _tool('pack_mevis.py')([str(preds / 'nope'), str(out)]) == 2
    assert 'prediction folder not found' in capsys.readouterr().err
    (preds / 'pred' / 'v1' / '1' / '00005.png').unlink()
    assert _tool('pack_mevis.py')([str(preds / 'pred'), str(preds / 'm.zip'), '--meta',
                                   str(preds / 'valid.json'), '--allow-missing']) == 0
    captured = capsys.readouterr()
    assert 'm.zip: 5 masks, 4 expressions of 3 videos' in captured.out
    assert 'warning: 1 frames missing, e.g. v1/1/00005' in captured.err
