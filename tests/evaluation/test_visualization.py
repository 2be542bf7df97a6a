"""RVOS visualizer, hook and overlays."""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from tgl_mm.registry import HOOKS, VISUALIZERS
from tgl_mm.structures.video_data_sample import VideoDataSample
from tgl_mm.visualization import (
    RVOSLocalVisualizer,
    frames_from_inputs,
    overlay_mask,
    render_frame_grid,
    select_frames,
)


def _sample(t=3, h=20, w=30, with_gt=True):
    s = VideoDataSample(metainfo=dict(video_id='vid/1', exp_id='0', text='the cat',
                                      frame_names=[f'{i:05d}' for i in range(t)],
                                      ori_shape=(h, w), img_shape=(16, 24), flip=False))
    pred = torch.zeros(t, h, w, dtype=torch.bool)
    pred[:, 5:10, 5:15] = True
    s.pred_masks = pred
    if with_gt:
        gt = torch.zeros(t, h, w, dtype=torch.bool)
        gt[:, 6:12, 4:14] = True
        s.gt_masks = gt
    return s


def test_overlay_mask_blends_inside_and_keeps_outside():
    img = np.full((10, 12, 3), 100, np.uint8)
    mask = np.zeros((10, 12), bool)
    mask[2:8, 3:9] = True
    out = overlay_mask(img, mask, color=(255, 0, 0), alpha=0.5, contour_thickness=0)
    assert (out[~mask] == 100).all()
    assert tuple(out[4, 5]) == (178, 50, 50)  # round(100 * .5 + 255 * .5) = 177.5 -> 178
    with pytest.raises(ValueError, match='differs'):
        overlay_mask(img, mask[:5])


def test_select_frames_spans_video():
    assert select_frames(3, 8) == [0, 1, 2]
    inds = select_frames(100, 5)
    assert inds[0] == 0 and inds[-1] == 99 and len(inds) == 5
    assert select_frames(0, 4) == []


def test_grid_shape_and_titles():
    frames = np.zeros((4, 30, 60, 3), np.uint8)
    masks = np.zeros((4, 30, 60), bool)
    grid = render_frame_grid(frames, {'pred': masks, 'gt': masks, 'none': None}, max_frames=3,
                             tile_width=40)
    # 2 rows of (title 22 + tile 20), 3 columns of 40
    assert grid.shape == (2 * (22 + 20), 3 * 40, 3)
    with pytest.raises(ValueError, match='masks have shape'):
        render_frame_grid(frames, {'pred': masks[:2]})


def test_frames_from_inputs_undoes_resize_and_padding():
    h, w = 24, 40
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, : w // 2] = 200
    small = cv2.resize(frame, (20, 12), interpolation=cv2.INTER_NEAREST)
    packed = np.zeros((1, 3, 20, 20), np.uint8)
    packed[0, :, :12, :20] = small.transpose(2, 0, 1)
    out = frames_from_inputs(torch.from_numpy(packed), (12, 20), (h, w))
    assert out.shape == (1, h, w, 3)
    assert out[0, 5, 2, 0] == 200 and out[0, 5, w - 3, 0] == 0
    flipped = frames_from_inputs(packed, (12, 20), (h, w), flip=True)
    np.testing.assert_array_equal(flipped, out[:, :, ::-1])


def test_visualizer_builds_from_registry_and_writes_png(tmp_path):
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        vis = VISUALIZERS.build(dict(type='RVOSLocalVisualizer', name='test_vis_png',
                                     max_frames=2, tile_width=30))
    assert isinstance(vis, RVOSLocalVisualizer)
    frames = np.zeros((3, 20, 30, 3), np.uint8)
    out = tmp_path / 'a' / 'b.png'
    grid = vis.add_datasample('x', frames, _sample(), out_file=out)
    back = cv2.imread(str(out))
    assert back is not None and back.shape == grid.shape
    # prediction row shows the prediction colour, gt row the gt colour
    assert grid.shape[0] == 26 + 2 * (22 + 20)


def test_hook_draws_every_interval_sample(tmp_path):
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        VISUALIZERS.build(dict(type='RVOSLocalVisualizer', name='test_vis_hook', max_frames=2))
        hook = HOOKS.build(dict(type='RVOSVisualizationHook', draw=True, interval=2,
                                test_out_dir=str(tmp_path / 'show')))
    samples = [_sample(), _sample(with_gt=False), _sample()]
    for i, s in enumerate(samples):
        s.set_metainfo(dict(exp_id=str(i)))
    inputs = [torch.zeros(3, 3, 24, 24, dtype=torch.uint8)] * 3
    runner = SimpleNamespace(iter=0)
    hook.after_test_iter(runner, 0, dict(inputs=inputs, data_samples=samples), samples)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*.png'))
    assert written == ['show/vid_1/0.png', 'show/vid_1/2.png']


def test_hook_off_by_default_draws_nothing(tmp_path):
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        hook = HOOKS.build(dict(type='RVOSVisualizationHook', test_out_dir=str(tmp_path)))
    s = _sample()
    hook.after_test_iter(SimpleNamespace(iter=0), 0, dict(inputs=[None]), [s])
    assert not list(tmp_path.rglob('*.png'))


def test_hook_validation_goes_to_the_backends(tmp_path):
    with DefaultScope.overwrite_default_scope('tgl_mm'):
        VISUALIZERS.build(dict(type='RVOSLocalVisualizer', name='test_vis_val', max_frames=2,
                               vis_backends=[dict(type='LocalVisBackend')],
                               save_dir=str(tmp_path)))
        hook = HOOKS.build(dict(type='RVOSVisualizationHook', draw=True, interval=2))
    s = _sample()
    inputs = [torch.zeros(3, 3, 24, 24, dtype=torch.uint8)]
    for i in range(3):
        hook.after_val_iter(SimpleNamespace(iter=0), i, dict(inputs=inputs), [s])
    names = sorted(p.name for p in tmp_path.rglob('*.png'))
    assert names == ['vid_1__0_0.png', 'vid_1__0_2.png']  # iterations 0 and 2


def test_sample_frames_reads_the_original_images_from_frame_dir(tmp_path):
    from tgl_mm.visualization.video_frames import sample_frames

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (12, 20, 3), dtype=np.uint8) for _ in range(2)]
    for i, img in enumerate(images):
        cv2.imwrite(str(tmp_path / f'{i:05d}.png'), img[:, :, ::-1])
    sample = VideoDataSample(metainfo=dict(video_id='v', exp_id='0', frame_dir=str(tmp_path),
                                           frame_names=['00000', '00001'], frame_ext='.png'))
    frames = sample_frames(sample)  # no inputs needed: the files are read
    assert frames.shape == (2, 12, 20, 3)
    assert np.array_equal(frames[1], images[1])
