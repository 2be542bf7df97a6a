"""Small MeViS-, YTVOS- and RefCOCO-layout fixtures written by the tests into tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from pycocotools import mask as mask_utils

H, W = 24, 32

# video -> frames, objects (obj_id -> first frame it is visible), expressions
MEVIS_SPEC = {
    'v0': dict(n=6, objects={1: 0, 2: 2},
               expressions={'0': ('The box  moving LEFT', [1]), '1': ('two boxes', [1, 2])}),
    'v1': dict(n=8, objects={3: 0},
               expressions={'0': ('the box on the right', [3])}),
}
MEVIS_MOMENTS = {'v0': {'0': {'1': [[1, 3]]}, '1': {'1': [[0, 1]], '2': [[4, 5]]}},
                 'v1': {'0': {'3': [[2, 6]]}}}


def object_mask(obj_id: int, t: int, h: int = H, w: int = W) -> np.ndarray:
    """Object ``obj_id`` at frame ``t``: a 4x5 box, rows by object, columns by frame."""
    m = np.zeros((h, w), dtype=bool)
    m[2 + 5 * (obj_id - 1): 6 + 5 * (obj_id - 1), t: t + 5] = True
    return m


def frame_value(t: int) -> int:
    return 10 + 20 * t


def write_frame(path: Path, t: int, h: int = H, w: int = W) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((h, w, 3), frame_value(t), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(x) for x in r['size']], 'counts': r['counts'].decode()}


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def make_mevis(root: Path, split: str = 'train', with_masks: bool = True,
               moments: bool = True, video_level: bool = False) -> Path:
    """A two-video MeViS split at ``root/split`` (+ ``root/moments/split.json``)."""
    videos, mask_dict = {}, {}
    for vid, spec in MEVIS_SPEC.items():
        frames = [f'{t:05d}' for t in range(spec['n'])]
        for t, name in enumerate(frames):
            write_frame(root / split / 'JPEGImages' / vid / f'{name}.jpg', t)
        for obj, first in spec['objects'].items():
            mask_dict[f'a{obj}'] = [rle(object_mask(obj, t)) if t >= first else None
                                    for t in range(spec['n'])]
        exps = {}
        for exp_id, (text, objs) in spec['expressions'].items():
            e = {'exp': text}
            if with_masks:
                e.update(obj_id=objs, anno_id=[f'a{o}' for o in objs])
            exps[exp_id] = e
        videos[vid] = {'frames': frames, 'expressions': exps}
    write_json(root / split / 'meta_expressions.json', {'videos': videos})
    if with_masks:
        write_json(root / split / 'mask_dict.json', mask_dict)
    if moments:
        vids = {}
        for vid, exps in MEVIS_MOMENTS.items():
            out = {}
            for e, objs in exps.items():
                if video_level:
                    out[e] = {'video': [s for spans in objs.values() for s in spans]}
                else:
                    out[e] = {'objects': objs}
            vids[vid] = {'num_frames': MEVIS_SPEC[vid]['n'], 'expressions': out}
        write_json(root / 'moments' / f'{split}.json',
                   {'format': 'tgl_mm.moments', 'version': 1, 'split': split, 'videos': vids})
    return root


TRAIN_PIPELINE = [
    dict(type='MomentAwareFrameSampler', num_frames=4),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=True),
    dict(type='ObjectSelectiveSupervision', enabled=True),
    dict(type='VideoResizePad', size=64),
    dict(type='PackVideoInputs'),
]
TEST_PIPELINE = [
    dict(type='AllFramesSampler'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadExpressionMasks', per_object=False),
    dict(type='VideoResizePad', size=64, resize_masks=False),
    dict(type='PackVideoInputs'),
]


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('tgl_mm')
    np.random.seed(0)


@pytest.fixture
def mevis_root(tmp_path: Path) -> Path:
    return make_mevis(tmp_path / 'mevis')


def palette_png(path: Path, index: np.ndarray) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(index.astype(np.uint8), mode='P')
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 12))
    img.save(path)


def make_ytvos(root: Path, davis: bool = False) -> Path:
    """Ref-YTVOS-style layout: train (masks), valid (+ test meta), 2 objects in v0."""
    splits = ('train', 'valid') if davis else ('train', 'valid', 'test')
    for split in splits:
        videos = {}
        vids = ['v0', 'v1'] if split != 'test' else ['v1']
        for vid in vids:
            frames = [f'{t:05d}' for t in range(5)]
            if split != 'test':
                for t, name in enumerate(frames):
                    write_frame(root / split / 'JPEGImages' / vid / f'{name}.jpg', t)
                    if split == 'train' or davis:
                        idx = np.zeros((H, W), dtype=np.uint8)
                        idx[object_mask(1, t)] = 1
                        idx[object_mask(2, t)] = 2
                        palette_png(root / split / 'Annotations' / vid / f'{name}.png', idx)
            if davis:  # 4 expressions per object, object by object
                exps = {str(4 * i + k): {'exp': f'object {o} set {k}', 'obj_id': str(o)}
                        for i, o in enumerate((1, 2)) for k in range(4)}
            elif split == 'train':
                exps = {'0': {'exp': 'the first box', 'obj_id': '1'},
                        '1': {'exp': 'the second box', 'obj_id': '2'}}
            else:
                exps = {'0': {'exp': 'a box'}}
            videos[vid] = {'frames': frames, 'expressions': exps}
        write_json(root / 'meta_expressions' / split / 'meta_expressions.json',
                   {'videos': videos})
    return root


@pytest.fixture
def fx():
    """The helpers of this conftest (the tests run in importlib mode: no `import conftest`)."""
    from types import SimpleNamespace
    return SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith('_')})
