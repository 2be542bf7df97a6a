"""Streaming inference: video files in, masks shared across sentences, bounded memory."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from tgl_mm.apis import init_model, segment_video
from tgl_mm.apis.streaming import segment_expressions
from tgl_mm.apis.video_io import FrameSpill, VideoInputError, open_frames
from tgl_mm.models.backbones.text_encoder import save_tiny_text_encoder
from tgl_mm.models.segmentors.tgl_sam2 import interleave
from tgl_mm.testing import tiny_tgl_config

TEXTS = ['the square moving right', 'the circle', 'a small thing jumping']


@pytest.fixture(scope='module')
def text_dir(tmp_path_factory):
    return save_tiny_text_encoder(tmp_path_factory.mktemp('txt') / 'bert', 'bert',
                                  hidden_size=32, num_layers=4)


@pytest.fixture(scope='module')
def model(text_dir):
    torch.manual_seed(0)
    return init_model(tiny_tgl_config(text_dir))


@pytest.fixture(scope='module')
def hsa_model(text_dir):
    """The tiny model with the adapter's HSA on (patches 4 / 2 / 1 on the 8 / 4 / 2 wide
    adapted maps at 64 px), its adapter and HSA not at their identity start (as trained)."""
    cfg = tiny_tgl_config(text_dir)
    cfg.model.neck.hsa = dict(patch_sizes=(4, 2, 1))
    torch.manual_seed(0)
    model = init_model(cfg)
    with torch.no_grad():
        for layer in model.neck.layers:
            layer.vision_scale.fill_(1.0)
            layer.hsa.proj.weight.normal_(0, 0.5)
    return model


@pytest.fixture(params=['plain', 'hsa'])
def any_model(request):
    return request.getfixturevalue('model' if request.param == 'plain' else 'hsa_model')


def write_video(path, num=12, size=(40, 56), fps=10):
    """A moving-square MP4 (mp4v) of ``num`` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size[::-1])
    assert writer.isOpened()
    for i in range(num):
        frame = np.full((*size, 3), 40, np.uint8)
        frame[10:22, 3 + 3 * i:15 + 3 * i] = (200, 80, 60)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp('vid') / 'clip.mp4')


def spans(num, *ranges):
    flags = np.zeros(num, bool)
    for a, b in ranges:
        flags[a:b] = True
    return flags


def run_all(model, video, texts, mplus):
    masks = {}
    run = segment_expressions(model, video, texts, lambda k, t, m: masks.__setitem__((k, t), m),
                              mplus=mplus)
    return run, masks


def test_shared_sentences_equal_one_at_a_time(any_model, video):
    """Several sentences side by side give the masks of each sentence alone, with fewer
    image-encoder passes (with the adapter's HSA too: each sentence's chunks attend only within
    themselves)."""
    model = any_model
    mplus = [spans(12, (2, 7)), spans(12, (0, 12)), spans(12, (5, 6), (9, 11))]
    run, masks = run_all(model, video, TEXTS, mplus)
    assert run.num_frames == 12 and run.ori_shape == (40, 56)
    single_passes = 0
    for k, (text, flags) in enumerate(zip(TEXTS, mplus)):
        alone, alone_masks = run_all(model, video, [text], [flags])
        single_passes += alone.counts['trunk_frames']
        for t in range(12):
            assert np.array_equal(masks[k, t], alone_masks[0, t]), (k, t)
        assert np.array_equal(run.object_scores[k], alone.object_scores[0])
        assert (run.mplus[k] == flags).all()
        res = segment_video(model, video, text, mplus=flags)
        assert np.array_equal(res.masks, np.stack([masks[k, t] for t in range(12)]))
    # every frame's trunk at least once; shared: far fewer than one pass per frame per sentence
    assert 12 <= run.counts['trunk_frames'] <= single_passes // 2


@pytest.mark.parametrize('shared_spans', [[(0, 12)], [(1, 4), (8, 11)]])
def test_batched_sentences_equal_one_at_a_time(any_model, video, monkeypatch, shared_spans):
    """Sentences with the same M+ frames run as one batch through the adapter path, the prompt
    and the head (one encode call per chunk for all of them); each sentence's masks are still
    exactly those of the sentence alone (sentences of different token lengths, so the batch
    pads; a third sentence with other M+ frames runs beside the batch). Object scores agree to
    float32 rounding: a linear layer on one row and on K rows (BLAS's matrix-vector and
    matrix-matrix kernels) may round differently in the last bit, and the head amplifies it to
    a few parts in a million of the score."""
    model = any_model
    texts = ['the square', 'a small red square moving to the right of the video', 'the circle']
    same = spans(12, *shared_spans)
    mplus = [same, same, spans(12, (5, 6), (9, 11))]
    batches = []
    original = type(model)._encode_chunk

    def encode_chunk(self, shared, tokens, frames, adapted):
        batches.append((tokens['input_ids'].shape[0], adapted))
        return original(self, shared, tokens, frames, adapted)

    monkeypatch.setattr(type(model), '_encode_chunk', encode_chunk)
    run, masks = run_all(model, video, texts, mplus)
    assert (2, True) in batches and all(k in (1, 2) for k, _ in batches)
    for k, (text, flags) in enumerate(zip(texts, mplus)):
        alone, alone_masks = run_all(model, video, [text], [flags])
        for t in range(12):
            assert np.array_equal(masks[k, t], alone_masks[0, t]), (k, t)
        np.testing.assert_allclose(run.object_scores[k], alone.object_scores[0], rtol=1e-5,
                                   atol=1e-5)
    assert run.counts['adapted_frames'] == 2 * int(same.sum()) + int(mplus[2].sum())


def test_sharing_disabled_counts_every_sentence(model, video):
    """Without the shared cache, sentences that do not run as one batch (other M+ frames) each
    pay for every frame; a batch (same M+ frames) encodes each chunk once for all of them."""
    model.shared_cache_frames = 0
    try:
        run, _ = run_all(model, video, TEXTS[:2], [spans(12, (0, 12)), spans(12, (0, 11))])
        batched, _ = run_all(model, video, TEXTS[:2], [None, None])
    finally:
        model.shared_cache_frames = 4 * model.chunk_size
    assert run.counts['trunk_frames'] >= 2 * 12
    assert batched.counts['trunk_frames'] == 12


def test_bounded_frames_held(any_model, video, monkeypatch):
    """Frames are loaded a chunk at a time and the shared cache never exceeds its bound (HSA
    attends within a chunk: it holds no more)."""
    model = any_model
    from tgl_mm.models.segmentors import shared_features
    requests, sizes = [], []
    original_put = shared_features._LRU.put

    def put(self, t, value):
        original_put(self, t, value)
        sizes.append(len(self.items))

    monkeypatch.setattr(shared_features._LRU, 'put', put)
    original_load = FrameSpill.load
    monkeypatch.setattr(FrameSpill, 'load',
                        lambda self, idx: requests.append(len(idx)) or original_load(self, idx))
    run_all(model, video, TEXTS, [None] * 3)
    assert max(requests) <= model.chunk_size
    assert max(sizes) <= model.shared_cache_frames


def test_segment_video_reads_a_video_file(model, video, tmp_path):
    res = segment_video(model, video, 'the square')
    assert res.masks.shape == (12, 40, 56) and res.frame_names[0] == '00000'
    # the same frames as a folder of PNGs give the same masks
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i, frame in enumerate(open_frames(video)):
        cv2.imwrite(str(folder / f'{i:05d}.png'), frame[:, :, ::-1])
    assert np.array_equal(segment_video(model, folder, 'the square').masks, res.masks)


def test_bad_video_inputs(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        segment_video(model, tmp_path / 'missing.mp4', 'a cat')
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video' * 50)
    with pytest.raises(VideoInputError, match='bad.mp4'):
        segment_video(model, bad, 'a cat')
    other = tmp_path / 'notes.txt'
    other.write_text('x')
    with pytest.raises(VideoInputError, match='notes.txt'):
        segment_video(model, other, 'a cat')
    folder = tmp_path / 'mixed'
    folder.mkdir()
    cv2.imwrite(str(folder / '0.png'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(folder / '1.png'), np.zeros((9, 8, 3), np.uint8))
    with pytest.raises(VideoInputError, match='differs'):
        segment_video(model, folder, 'a cat')
    with pytest.raises(ValueError, match='sentence 1 is empty'):
        segment_expressions(model, folder, ['a cat', '  '], lambda *a: None)


def test_interleave_follows_the_earliest_planned_frame():
    runs = [(iter([(2, 'a'), (0, 'b')]), [2, 0]), (iter([(1, 'c'), (3, 'd')]), [1, 3])]
    assert [(k, t) for k, t, _ in interleave(runs)] == [(1, 1), (0, 2), (0, 0), (1, 3)]


def test_test_dataloader_shares_a_videos_expressions(model, tmp_path):
    """tools/test.py's path: ``VideoBatchSampler`` batches a video's expressions, which
    ``TGLSAM2.test_step`` segments side by side: masks equal those of one expression per
    batch (object scores to float32 rounding: expressions with the same M+ frames run as one
    batch), with far fewer image-encoder passes."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from tgl_mm.datasets.synthetic import make_synthetic_mevis_m
    root = tmp_path / 'syn'
    make_synthetic_mevis_m(root, num_videos=1, num_valid_u=2, num_valid=1, seed=3,
                           progress=False, log=None)
    cfg = Config.fromfile('configs/tgl/tgl_tiny_synthetic.py')
    loader_cfg = cfg.test_dataloader
    loader_cfg.dataset.data_root = str(root)
    for transform in loader_cfg.dataset.pipeline:
        if transform['type'] == 'VideoResizePad':
            transform['size'] = model.head.image_size
    assert loader_cfg.batch_sampler == dict(type='VideoBatchSampler')
    results, passes, batches = {}, {}, {}
    for batch_size in (8, 1):
        with DefaultScope.overwrite_default_scope('tgl_mm'):
            loader = Runner.build_dataloader(dict(loader_cfg, batch_size=batch_size))
        model.encoder_counts = dict.fromkeys(model.encoder_counts, 0)
        results[batch_size], batches[batch_size] = {}, []
        for data in loader:
            batches[batch_size].append({s.metainfo['video_id'] for s in data['data_samples']})
            for sample in model.test_step(data):
                key = (sample.metainfo['video_id'], sample.metainfo['exp_id'])
                results[batch_size][key] = (sample.pred_masks, sample.pred_object_scores)
        passes[batch_size] = model.encoder_counts['trunk_frames']
        assert model.encoder_counts['expressions'] == len(results[batch_size])
    assert all(len(videos) == 1 for videos in batches[8])
    assert len(batches[8]) == 2 and len(batches[1]) == len(results[1]) > 2
    assert results[8].keys() == results[1].keys()
    for key, (masks, scores) in results[1].items():
        assert torch.equal(results[8][key][0], masks), key
        torch.testing.assert_close(results[8][key][1], scores, rtol=0, atol=1e-5)
    # every frame through the encoder at least once; far fewer passes than one expression per
    # batch (0.54x here: ~3 expressions a video, a cache of 4 chunks of 2 frames)
    frames = sum({k[0]: len(v[0]) for k, v in results[1].items()}.values())
    assert frames <= passes[8] <= 0.6 * passes[1], (frames, passes)


def test_frame_rows_of_a_batched_chunk():
    """A chunk of n frames for K sentences: K * n rows sentence-major, or n rows shared."""
    from tgl_mm.models.segmentors.chunked_features import frame_rows
    assert frame_rows(1, 3, 1, 3) == slice(1, 2)
    assert frame_rows(1, 3, 2, 6).tolist() == [1, 4]
    assert frame_rows(2, 3, 4, 3).tolist() == [2, 2, 2, 2]
    with pytest.raises(ValueError, match='5 feature rows'):
        frame_rows(0, 3, 2, 5)
