import json

import numpy as np
import pytest
import torch

from tgl_mm.models.grounding.clip_scorer import CLIPFrameScorer


@pytest.fixture(scope='module')
def tiny_clip_dir(tmp_path_factory):
    """A tiny random CLIP in transformers format, saved like a real local checkpoint."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    d = tmp_path_factory.mktemp('clip')
    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for c in 'abcdefghijklmnopqrstuvwxyz':
        vocab[c] = len(vocab)
        vocab[c + '</w>'] = len(vocab)
    (d / 'vocab.json').write_text(json.dumps(vocab))
    (d / 'merges.txt').write_text('#version: 0.2\n')
    CLIPTokenizer(str(d / 'vocab.json'), str(d / 'merges.txt')).save_pretrained(d)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(cfg).save_pretrained(d)
    CLIPImageProcessor(size={'shortest_edge': 32},
                       crop_size={'height': 32, 'width': 32}).save_pretrained(d)
    return d


def test_scores_match_clip_forward(tiny_clip_dir):
    from transformers import CLIPModel

    scorer = CLIPFrameScorer(tiny_clip_dir, batch_size=2)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(5)]
    texts = ['a cat jumping', 'the bird flies away']
    s = scorer.scores(scorer.encode_frames(frames), scorer.encode_texts(texts))
    assert s.shape == (2, 5)
    # reference: CLIP's own joint forward gives logits_per_text
    model = CLIPModel.from_pretrained(tiny_clip_dir, local_files_only=True).eval()
    pixels = scorer.image_processor(images=frames, return_tensors='pt')['pixel_values']
    tokens = scorer.tokenizer(texts, return_tensors='pt', padding=True)
    with torch.no_grad():
        ref = model(pixel_values=pixels, **tokens).logits_per_text
    assert torch.allclose(s, ref, atol=1e-4)


def test_missing_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        CLIPFrameScorer(tmp_path / 'nowhere')
