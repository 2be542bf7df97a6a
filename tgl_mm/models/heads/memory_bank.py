"""Moment-centric memory bank of the MDP head: which frames are processed when, which memories each
frame reads, and how they are presented to sam2 so that SAM2's own memory code can be reused.

Pure Python on frame indices (no tensors) except :func:`present_memories`, which only arranges
existing entries into the ``output_dict`` layout that
``SAM2Base._prepare_memory_conditioned_features`` reads.

Terms (``t`` is a position in the processed sequence: a clip's frames, or every frame of a video):

- *writer*: a frame whose prediction is encoded into the memory bank (M+ frames, or all frames
  for the ``memory_from='all'`` ablation, and frames given a mask).
- *conditioning frame* (SAM2's term): a frame given a mask, or -- when no mask is given -- the first
  writer processed. It reads no memory (SAM2 adds ``no_mem_embed``) and every later frame
  attends to it, as SAM2 does with its prompted frames.
- *offset* of a memory entry ``p`` for frame ``t``: its rank (1 = nearest) among all entries in the
  bank, by temporal distance ``|t - p|`` (ties: the earlier frame first). When every frame is in
  memory this is exactly the frame distance that SAM2 uses, so the ``N`` nearest memories reuse
  SAM2's temporal encodings (``maskmem_tpos_enc``, object-pointer sine encodings) at offsets
  ``1..N``, nearest first.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MEMORY_FROM = ('mplus', 'all')
ORDERS = ('mplus_first', 'temporal')


@dataclass(frozen=True)
class MDPStep:
    """One frame's work in an MDP pass.

    Attributes:
        frame: position of the frame in the sequence.
        cond: conditioning frame (reads no memory; always read by later frames).
        write: the frame's prediction is encoded into the memory bank.
        reads: ``(frame, offset)`` of the memories it attends to, nearest first; conditioning
            memories included with offset 0 (SAM2 presents them at their distance).
        release: memory frames that no later step reads; drop them after this step.
    """

    frame: int
    cond: bool
    write: bool
    reads: tuple[tuple[int, int], ...]
    release: tuple[int, ...] = ()


def memory_offsets(t: int, bank: Sequence[int]) -> list[tuple[int, int]]:
    """``(frame, offset)`` of every entry of ``bank`` for frame ``t``, nearest first."""
    ranked = sorted(bank, key=lambda p: (abs(t - p), p))
    return [(p, rank) for rank, p in enumerate(ranked, start=1)]


def select_memories(t: int, bank: Sequence[int], cond: set[int],
                    window: int) -> tuple[tuple[int, int], ...]:
    """Memories that frame ``t`` reads: every conditioning entry plus the non-conditioning entries
    whose offset is at most ``window`` (SAM2: ``t-1 .. t-window``), nearest first, as
    ``(frame, offset)``; conditioning entries get offset 0 (SAM2 presents them at their true
    distance, whatever lies in between)."""
    return tuple((p, 0 if p in cond else o) for p, o in memory_offsets(t, bank)
                 if p in cond or o <= window)


def plan_mdp(mplus: Sequence[bool], *, memory_from: str = 'mplus', order: str = 'mplus_first',
             mask_frames: Sequence[int] = (), window: int = 15) -> list[MDPStep]:
    """Processing plan of the MDP head for one sequence.

    Base order: frames given a mask first (conditioning frames, as SAM2 does with prompted frames),
    then ``order='mplus_first'``: the M+ frames in temporal order, then the M- frames in temporal
    order (the paper: segment within M+, then propagate to M-); ``order='temporal'``: every frame
    in temporal order (a causal single pass, SAM2's propagation). Each frame reads the memories
    written before it in that order (:func:`select_memories`).

    A frame that writes no memory only depends on what it reads, so it is moved to right after the
    step that wrote the last of its memories: during whole-video inference an M- frame runs as
    soon as its nearest M+ memories exist, and memories nobody will read again are released
    (``MDPStep.release``). The memory bank then stays bounded by about ``2 * window`` entries plus
    the conditioning ones, whatever the video length.

    Args:
        mplus: per-frame M+ flags.
        memory_from: ``'mplus'`` (only M+ frames are written, the paper) or ``'all'`` (ablation).
        order: ``'mplus_first'`` or ``'temporal'``.
        mask_frames: frames given a mask (conditioning frames, always written).
        window: largest offset a frame reads (SAM2: ``max(num_maskmem - 1, max_obj_ptrs - 1)``
            capped by the sequence length).

    Returns:
        One :class:`MDPStep` per frame, in execution order.
    """
    if memory_from not in MEMORY_FROM:
        raise ValueError(f'memory_from must be one of {MEMORY_FROM}, got {memory_from!r}')
    if order not in ORDERS:
        raise ValueError(f'order must be one of {ORDERS}, got {order!r}')
    num = len(mplus)
    masks = sorted(set(int(f) for f in mask_frames))
    if any(not 0 <= f < num for f in masks):
        raise ValueError(f'mask frames {masks} out of range for {num} frames')
    plus = [bool(m) for m in mplus]
    writes = [plus[t] or memory_from == 'all' or t in masks for t in range(num)]
    rest = [t for t in range(num) if t not in masks]
    if order == 'mplus_first':
        rest = [t for t in rest if plus[t]] + [t for t in rest if not plus[t]]
    base = masks + rest

    cond = set(masks)
    bank: list[int] = []
    write_step: dict[int, int] = {}
    steps: list[MDPStep] = []
    for t in base:
        is_cond = t in cond or (not cond and writes[t])
        reads = () if is_cond else select_memories(t, bank, cond, window)
        if is_cond:
            cond.add(t)
        if writes[t]:
            write_step[t] = len(write_step)
            bank.append(t)
        steps.append(MDPStep(frame=t, cond=is_cond, write=writes[t], reads=reads))

    # Move non-writers right after their last memory was written (same reads, bounded bank).
    def key(step: MDPStep) -> tuple[int, int, int]:
        if step.write:
            return (write_step[step.frame], 0, step.frame)
        last = max((write_step[p] for p, _ in step.reads), default=-1)
        return (last, 1, step.frame)

    steps.sort(key=key)
    last_read = {s.frame: i for i, s in enumerate(steps) if s.write}
    for i, step in enumerate(steps):
        for p, _ in step.reads:
            last_read[p] = i
    release: dict[int, list[int]] = {}
    for p, i in last_read.items():
        release.setdefault(i, []).append(p)
    return [MDPStep(s.frame, s.cond, s.write, s.reads, tuple(sorted(release.get(i, ()))))
            for i, s in enumerate(steps)]


def present_memories(t: int, reads: Sequence[tuple[int, int]], cond: set[int],
                     bank: Mapping[int, Any], num_frames: int,
                     max_obj_ptrs: int) -> tuple[int, bool, dict[str, dict[int, Any]]]:
    """Arrange memories so that ``SAM2Base._prepare_memory_conditioned_features`` reads them at
    their offsets.

    SAM2 looks memories up at exact frame indices (``t-1 .. t-6`` for spatial memories, up to
    ``t-15`` for object pointers, every conditioning frame at its distance). We call it with a
    virtual current index ``v`` and key each non-conditioning entry at ``v - offset`` (or
    ``v + offset`` when every memory lies in the future: SAM2's reverse tracking), and each
    conditioning entry at its true signed distance from ``v``. ``v`` keeps every key inside
    ``[0, num_frames)`` where sam2 checks bounds.

    Returns:
        ``(v, reverse, output_dict)`` to pass as ``frame_idx``, ``track_in_reverse`` and
        ``output_dict``.
    """
    span = min(num_frames, max_obj_ptrs) - 1
    reverse = bool(reads) and all(p > t for p, _ in reads)
    v = num_frames - 1 - span if reverse else span
    sign = 1 if reverse else -1
    out: dict[str, dict[int, Any]] = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
    for p, offset in reads:
        if p in cond:
            out['cond_frame_outputs'][v + (p - t)] = bank[p]
        else:
            out['non_cond_frame_outputs'][v + sign * offset] = bank[p]
    return v, reverse, out


def spatial_memory_frames(reads: Sequence[tuple[int, int]], cond: set[int],
                          num_maskmem: int) -> list[int]:
    """The memory frames whose spatial features frame ``reads`` presents to memory attention, in
    the order ``SAM2Base._prepare_memory_conditioned_features`` concatenates them after
    :func:`present_memories`: the conditioning entries first (in ``reads`` order, nearest first),
    then the other entries with offset ``<= num_maskmem - 1``, farthest first (SAM2's ``t_pos``
    1 .. ``num_maskmem - 1``). Entries read at larger offsets give only object pointers.

    Args:
        reads: :attr:`MDPStep.reads` of the frame.
        cond: conditioning frames.
        num_maskmem: SAM2's ``num_maskmem`` (7: the conditioning memory plus 6 nearest).
    """
    conds = [p for p, _ in reads if p in cond]
    others = sorted(((o, p) for p, o in reads if p not in cond and o <= num_maskmem - 1),
                    reverse=True)
    return conds + [p for _, p in others]

