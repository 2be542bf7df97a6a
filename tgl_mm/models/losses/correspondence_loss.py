"""Memory correspondence loss: supervise *where* SAM2's memory attention looks (stage 0).

A randomly initialised SAM2 does not learn to track from mask losses alone: its memory attention
starts nearly uniform, so what it reads from the memory bank is one average over all memory tokens,
the same at every position, and the decoder learns to segment whatever is salient instead
(docs/model_sam2.md, "Stage 0"). Official SAM2 starts from weights that already track. For a
from-scratch tiny SAM2 we add an auxiliary loss on the cross-attention of every memory-attention
layer: a query token that lies on object ``i`` in the current frame should attend to the memory
tokens that lie on object ``i`` in the memory frames (and a background token to background). With
look-alike objects in the data, only position (SAM2's RoPE) and the object's history tell them
apart, so the attention learns object-level correspondence; the values then carry each memory's
mask to the right place.

Pure tensor functions (:func:`token_labels`, :func:`correspondence_nll`) and a recorder that
re-derives the attention logits of sam2's ``RoPEAttention`` from its own projections and
``apply_rotary_enc`` after each call (nothing of sam2 is changed or copied).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from sam2.modeling.position_encoding import apply_rotary_enc
from torch import Tensor, nn

from tgl_mm.registry import MODELS

#: token label of a token on no object
BACKGROUND = 0
#: token label of a token that is neither clearly on an object nor clearly background
IGNORE = -1
#: label of an object-pointer memory token (matches no query)
POINTER = -2


def token_labels(masks: Tensor, grid: int, on: float = 0.3, off: float = 0.1) -> Tensor:
    """Object label of every token of a ``grid x grid`` map.

    Args:
        masks: bool (N, T, S, S) masks of the N objects of a clip (S divisible by ``grid``).
        grid: tokens per side (S / 16 for SAM2's memory attention).
        on: a token whose largest object coverage is at least ``on`` gets that object's label.
        off: a token whose every object coverage is below ``off`` is background.

    Returns:
        long (T, grid * grid): ``i + 1`` for object ``i``, :data:`BACKGROUND` (0), or
        :data:`IGNORE` (-1) in between, row-major like SAM2's flattened tokens.
    """
    num_objects, num_frames = masks.shape[:2]
    if num_objects == 0:
        return torch.zeros(num_frames, grid * grid, dtype=torch.long, device=masks.device)
    cover = F.adaptive_avg_pool2d(masks.float(), grid).flatten(2)     # (N, T, g*g)
    best, index = cover.max(0)
    labels = index + 1
    labels[best < on] = IGNORE
    labels[best < off] = BACKGROUND
    return labels


def correspondence_nll(logits: Tensor, query_labels: Tensor, memory_labels: Tensor,
                       background_weight: float = 0.2) -> Tensor:
    """Negative log of the attention mass that each query token puts on memory tokens of its
    own label (its object, or background).

    Args:
        logits: (H, Q, K) attention logits of one video (H heads, Q query tokens, K memory
            tokens: every token the softmax runs over, object pointers included).
        query_labels: long (Q,) :func:`token_labels` of the current frame.
        memory_labels: long (K,) labels of the memory tokens, in the order of ``logits``;
            :data:`POINTER` for object-pointer tokens (never a match, but they take mass).
        background_weight: weight of background queries relative to object queries.

    Returns:
        Scalar: the weighted mean over the query tokens that have a counterpart in memory
        (background queries weighted ``background_weight``), averaged over heads; 0 when no query
        has a counterpart.
    """
    same = (query_labels[:, None] == memory_labels[None, :]) & (query_labels[:, None] >= 0)
    valid = same.any(1)
    if not bool(valid.any()):
        return logits.sum() * 0.0
    scores = logits[:, valid].float()
    matched = scores.masked_fill(~same[valid][None], float('-inf'))
    nll = scores.logsumexp(-1) - matched.logsumexp(-1)                  # (H, Q_valid)
    weight = torch.where(query_labels[valid] > 0, 1.0, background_weight).to(nll.dtype)
    return (nll * weight).sum(-1).mean() / weight.sum()


class MemoryAttentionRecorder:
    """Records the cross-attention logits of every layer of a SAM2 ``MemoryAttention``.

    While :attr:`active`, each call of a layer's ``cross_attn_image`` (sam2's ``RoPEAttention``)
    appends its attention logits (B, H, Q, K) to :attr:`logits` and the number of trailing
    object-pointer tokens of K (no RoPE) to :attr:`pointers`, computed with the module's own
    projections and rotary encoding. Use as a context manager; hooks are removed by
    :meth:`close`.
    """

    def __init__(self, memory_attention: nn.Module) -> None:
        self.logits: list[Tensor] = []
        self.pointers: list[int] = []
        self.active = False
        self._handles = [layer.cross_attn_image.register_forward_hook(self._hook,
                                                                      with_kwargs=True)
                         for layer in memory_attention.layers]

    def _hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Tensor) -> None:
        if not self.active:
            return
        q_in, k_in = (kwargs['q'], kwargs['k']) if 'q' in kwargs else args[:2]
        q = module._separate_heads(module.q_proj(q_in), module.num_heads)
        k = module._separate_heads(module.k_proj(k_in), module.num_heads)
        pointers = int(kwargs.get('num_k_exclude_rope', 0))
        num_rope = k.shape[-2] - pointers
        q, k_rope = apply_rotary_enc(q, k[:, :, :num_rope], freqs_cis=module.freqs_cis,
                                     repeat_freqs_k=module.rope_k_repeat)
        k = torch.cat([k_rope, k[:, :, num_rope:]], dim=-2)
        self.logits.append(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]))
        self.pointers.append(pointers)

    def __enter__(self) -> MemoryAttentionRecorder:
        self.logits, self.pointers = [], []
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@MODELS.register_module()
class MemoryCorrespondenceLoss(nn.Module):
    """Weighted mean of :func:`correspondence_nll` over recorded memory-attention calls.

    Args:
        loss_weight: weight of the loss (1.0).
        background_weight: weight of background query tokens (0.2).
        on, off: :func:`token_labels` thresholds.
    """

    def __init__(self, loss_weight: float = 1.0, background_weight: float = 0.2,
                 on: float = 0.3, off: float = 0.1) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.background_weight = background_weight
        self.on = on
        self.off = off

    def forward(self, logits: Sequence[Tensor], pointers: Sequence[int],
                memory_frames: Sequence[Sequence[int]], query_frames: Sequence[int],
                object_masks: Sequence[Tensor]) -> Tensor:
        """Args:
            logits: recorded (B, H, Q, K) logits, one per memory-attention call.
            pointers: for each call, the number of object-pointer tokens at the end of K.
            memory_frames: for each call, the clip frames whose memories make up K, in order.
            query_frames: for each call, the clip frame being segmented.
            object_masks: per video, bool (N_b, T, S, S) masks of all its objects.

        Returns:
            ``loss_weight`` times the mean loss over calls and videos.
        """
        if not (len(logits) == len(pointers) == len(memory_frames) == len(query_frames)):
            raise ValueError(f'{len(logits)} logits for {len(memory_frames)} memory lists and '
                             f'{len(query_frames)} query frames')
        if not logits:
            raise ValueError('MemoryCorrespondenceLoss: no memory-attention call was recorded')
        grid = math.isqrt(logits[0].shape[-2])
        labels = [token_labels(m, grid, self.on, self.off) for m in object_masks]
        terms = []
        for call, num_ptr, frames, t in zip(logits, pointers, memory_frames, query_frames):
            for b, video_labels in enumerate(labels):
                memory = torch.cat([video_labels[list(frames)].flatten(),
                                    video_labels.new_full((num_ptr,), POINTER)])
                if memory.numel() != call.shape[-1]:
                    raise ValueError(f'{call.shape[-1]} memory tokens recorded, {memory.numel()} '
                                     f'labels for memory frames {list(frames)} and {num_ptr} '
                                     'object pointers')
                terms.append(correspondence_nll(call[b], video_labels[t], memory,
                                                self.background_weight))
        return self.loss_weight * torch.stack(terms).mean()
