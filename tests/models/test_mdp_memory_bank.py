"""MDP processing plans: order, reads (nearest memories with SAM2 offsets), bounded bank."""
from __future__ import annotations

import pytest

from tgl_mm.models.heads.memory_bank import (
    memory_offsets,
    plan_mdp,
    present_memories,
    select_memories,
)


def frames_of(steps):
    return [s.frame for s in steps]


def replay(steps, window):
    """Re-run a plan in its own order, recomputing reads from the bank at each step; also return
    the largest bank size (after releases)."""
    cond = {s.frame for s in steps if s.cond}
    bank, largest = [], 0
    recomputed = []
    for step in steps:
        recomputed.append(() if step.cond else select_memories(step.frame, bank, cond, window))
        if step.write:
            bank.append(step.frame)
        largest = max(largest, len(bank))
        bank = [p for p in bank if p not in step.release]
    return recomputed, largest


def test_offsets_rank_by_distance_past_first():
    assert memory_offsets(5, [1, 4, 6, 9]) == [(4, 1), (6, 2), (1, 3), (9, 4)]
    assert select_memories(5, [0, 1, 2, 3, 4], cond={0}, window=2) == ((4, 1), (3, 2), (0, 0))


def test_all_frames_temporal_is_sam2_propagation():
    steps = plan_mdp([True] * 10, memory_from='all', order='temporal', window=9)
    assert frames_of(steps) == list(range(10))
    assert steps[0].cond and all(not s.cond for s in steps[1:])
    # frame t reads t-1 .. t-9 at offsets equal to the frame distance, and the conditioning frame
    for s in steps[1:]:
        assert s.reads == tuple((s.frame - d, d if d < s.frame else 0)
                                for d in range(1, s.frame + 1))


def test_mplus_first_order_and_mminus_frames_read_only_mplus():
    mplus = [False, False, True, True, False, True, False]
    steps = plan_mdp(mplus, window=6)
    assert frames_of(steps) == [2, 3, 5, 0, 1, 4, 6]
    by_frame = {s.frame: s for s in steps}
    assert by_frame[2].cond and by_frame[2].reads == ()
    assert [s.frame for s in steps if s.write] == [2, 3, 5]
    # M- frame 4 sits between M+ frames: nearest first, past before future at equal distance
    assert by_frame[4].reads == ((3, 1), (5, 2), (2, 0))
    # M+ frames read only earlier M+ memories
    assert by_frame[5].reads == ((3, 1), (2, 0))
    assert by_frame[0].reads == ((2, 0), (3, 2), (5, 3))


def test_mask_frames_are_conditioning_and_first():
    steps = plan_mdp([True] * 6, mask_frames=[3], window=5)
    assert steps[0].frame == 3 and steps[0].cond and steps[0].write
    assert sum(s.cond for s in steps) == 1
    with pytest.raises(ValueError, match='out of range'):
        plan_mdp([True] * 3, mask_frames=[5])


def test_no_mplus_frame_means_no_memory():
    steps = plan_mdp([False] * 4)
    assert all(not s.write and not s.cond and s.reads == () for s in steps)


@pytest.mark.parametrize('memory_from,order,bounded', [
    ('mplus', 'mplus_first', True), ('mplus', 'temporal', True), ('all', 'temporal', True),
    # M- frames that write memory come after every M+ frame: the bank keeps each M+ segment's
    # edges for them (still far below the video length)
    ('all', 'mplus_first', False)])
def test_long_video_bank_is_bounded_and_moves_keep_reads(memory_from, order, bounded):
    num, window = 400, 15
    mplus = [(40 <= t < 120) or (250 <= t < 260) or t == 330 for t in range(num)]
    steps = plan_mdp(mplus, memory_from=memory_from, order=order, window=window)
    assert sorted(frames_of(steps)) == list(range(num))
    recomputed, largest = replay(steps, window)
    # moving frames that write nothing earlier does not change what they read
    assert [s.reads for s in steps] == recomputed
    assert largest <= (2 * window + 2 if bounded else 4 * window)
    # nothing the plan releases is read later
    released = set()
    for s in steps:
        assert not released & {p for p, _ in s.reads}
        released |= set(s.release)


def test_invalid_switches():
    with pytest.raises(ValueError, match='memory_from'):
        plan_mdp([True], memory_from='some')
    with pytest.raises(ValueError, match='order'):
        plan_mdp([True], order='random')


def test_present_memories_keys():
    bank = {p: f'mem{p}' for p in (0, 4, 6, 9)}
    # forward: non-conditioning entries at v - offset, conditioning at its true distance
    v, reverse, out = present_memories(7, ((6, 1), (9, 2), (4, 3), (0, 0)), {0}, bank,
                                       num_frames=10, max_obj_ptrs=16)
    assert (v, reverse) == (9, False)
    assert out['non_cond_frame_outputs'] == {8: 'mem6', 7: 'mem9', 6: 'mem4'}
    assert out['cond_frame_outputs'] == {2: 'mem0'}
    # every memory in the future: SAM2's reverse tracking, keys inside [0, num_frames)
    v, reverse, out = present_memories(1, ((4, 0), (6, 2), (9, 3)), {4}, bank, num_frames=30,
                                       max_obj_ptrs=16)
    assert (v, reverse) == (14, True)
    assert out['cond_frame_outputs'] == {17: 'mem4'}
    assert out['non_cond_frame_outputs'] == {16: 'mem6', 17: 'mem9'}
