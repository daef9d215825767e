"""A reader's order and position: derived from seed, reader and answers alone (resumable)."""

from __future__ import annotations

from edgegen.reader.flow import current_trial, position, reader_order

IDS = tuple(f"{i:016x}" for i in range(20))


def test_each_reader_gets_a_fixed_order_of_their_own():
    a1, a2 = reader_order(IDS, 0, 1, 1), reader_order(tuple(reversed(IDS)), 0, 1, 1)
    assert a1 == a2 and sorted(a1) == sorted(IDS)  # independent of how the IDs were listed
    assert reader_order(IDS, 0, 2, 1) != a1 and reader_order(IDS, 0, 1, 2) != a1 and reader_order(IDS, 1, 1, 1) != a1


def test_position_walks_the_order_then_the_second_trial_then_ends():
    order1, order2 = reader_order(IDS, 0, 7, 1), reader_order(IDS, 0, 7, 2)
    pos = position(IDS, 0, (1, 2), 7, {})
    assert (pos.trial, pos.image_id, pos.answered, pos.step) == (1, order1[0], 0, 1)
    done = set(order1[:5]) | {order1[9]}  # answered out of order (a retried post, another tab)
    pos = position(IDS, 0, (1, 2), 7, {1: done})
    assert (pos.image_id, pos.answered) == (order1[5], 6)
    pos = position(IDS, 0, (1, 2), 7, {1: set(IDS)})
    assert (pos.trial, pos.image_id, pos.step) == (2, order2[0], 21)
    assert current_trial((1, 2), IDS, {1: set(IDS)}) == 2
    end = position(IDS, 0, (1, 2), 7, {1: set(IDS), 2: set(IDS)})
    assert end.done and end.image_id is None and current_trial((1, 2), IDS, {1: set(IDS), 2: set(IDS)}) is None
