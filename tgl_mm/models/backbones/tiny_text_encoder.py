"""Tiny random Hugging Face text encoders with fast tokenizers, built offline: for tests and CPU
smoke runs, loadable with :class:`~tgl_mm.models.backbones.text_encoder.HFTextEncoder`."""
from __future__ import annotations

import os
import shutil
import string
import tempfile
from pathlib import Path

import torch

_TINY_CORPUS = (
    'the bird that flies away', 'a cat jumping to the left', 'the car turning then stopping',
    'the person on the right', 'the leftmost elephant', 'dog running and walking slowly',
    'monkey eating food while sitting still', 'the fish swimming forward in the water',
    'two sheep moving from left to right', 'the white horse standing still near the fence',
)


def save_tiny_text_encoder(save_dir: str | os.PathLike, model_type: str = 'roberta',
                           hidden_size: int = 32, num_layers: int = 4, num_heads: int = 4,
                           seed: int = 0, **config: int) -> Path:
    """Save a tiny random HF encoder and its fast tokenizer to ``save_dir`` (no download).

    ``'roberta'``: a byte-level BPE tokenizer trained on a few built-in sentences;
    ``'bert'``: a lower-case WordPiece tokenizer over letters and a few words. Both tokenise any
    English text (byte fallback / single letters). For tests and CPU smoke runs. The files are
    written to a temporary folder next to ``save_dir`` that is then renamed, so ``save_dir``
    never holds a half-written model; it must not exist yet (or be empty).

    ``config`` overrides the Hugging Face config (``intermediate_size``,
    ``max_position_embeddings``, ``vocab_size`` -- at least the tokenizer's; extra rows are
    never read): e.g. RoBERTa-base's shape with random weights, :data:`ROBERTA_BASE_SHAPE`.

    Returns:
        The directory, loadable with ``HFTextEncoder(model_dir=...)``.
    """
    from transformers import (
        BertConfig,
        BertModel,
        BertTokenizerFast,
        RobertaConfig,
        RobertaModel,
        RobertaTokenizerFast,
    )

    save_dir = Path(save_dir)
    if save_dir.exists() and (not save_dir.is_dir() or any(save_dir.iterdir())):
        raise FileExistsError(f'save_tiny_text_encoder: {str(save_dir)!r} exists and is not an '
                              f'empty directory')
    common = dict(hidden_size=hidden_size, num_hidden_layers=num_layers,
                  num_attention_heads=num_heads, intermediate_size=2 * hidden_size,
                  max_position_embeddings=128)
    unknown = set(config) - {'intermediate_size', 'max_position_embeddings', 'vocab_size'}
    if unknown:
        raise ValueError(f'save_tiny_text_encoder: unknown config keys {sorted(unknown)}')
    common.update({k: v for k, v in config.items() if k != 'vocab_size'})
    if model_type == 'roberta':
        from tokenizers import ByteLevelBPETokenizer

        specials = ['<s>', '<pad>', '</s>', '<unk>', '<mask>']
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(_TINY_CORPUS, vocab_size=400, min_frequency=1,
                                special_tokens=specials, show_progress=False)
        tokenizer = RobertaTokenizerFast(
            tokenizer_object=bpe._tokenizer, bos_token='<s>', eos_token='</s>',
            cls_token='<s>', sep_token='</s>', unk_token='<unk>', pad_token='<pad>',
            mask_token='<mask>')
        hf_config = RobertaConfig(vocab_size=max(len(tokenizer), config.get('vocab_size', 0)),
                                  pad_token_id=1, bos_token_id=0, eos_token_id=2, **common)
        model_cls = RobertaModel
    elif model_type == 'bert':
        from tokenizers import BertWordPieceTokenizer

        words = sorted({w for s in _TINY_CORPUS for w in s.split()})
        vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *string.ascii_lowercase,
                 *(f'##{c}' for c in string.ascii_lowercase), *string.digits,
                 *string.punctuation, *words]
        wordpiece = BertWordPieceTokenizer(vocab={w: i for i, w in enumerate(dict.fromkeys(
            vocab))}, lowercase=True)
        tokenizer = BertTokenizerFast(
            tokenizer_object=wordpiece._tokenizer, unk_token='[UNK]', pad_token='[PAD]',
            cls_token='[CLS]', sep_token='[SEP]', mask_token='[MASK]', do_lower_case=True)
        hf_config = BertConfig(vocab_size=max(len(tokenizer), config.get('vocab_size', 0)),
                               pad_token_id=0, **common)
        model_cls = BertModel
    else:
        raise ValueError(f"save_tiny_text_encoder: model_type must be 'roberta' or 'bert', "
                         f'got {model_type!r}')
    torch.manual_seed(seed)
    model = model_cls(hf_config)
    save_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{save_dir.name}.', dir=save_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        if save_dir.exists():
            save_dir.rmdir()
        os.replace(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return save_dir


#: RoBERTa-base's shape (the paper's text encoder) for :func:`save_tiny_text_encoder`'s
#: ``'roberta'`` with random weights: 12 layers of width 768, 12 heads, 124.6 M parameters
ROBERTA_BASE_SHAPE = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072,
                          max_position_embeddings=514, vocab_size=50265)


__all__ = ['save_tiny_text_encoder', 'ROBERTA_BASE_SHAPE']
