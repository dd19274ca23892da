"""processors.faust_repairs.ordering: holes are refused and sought back; redeliveries pass."""

from __future__ import annotations

from dataclasses import dataclass

from faust.types import TP

from processors.faust_repairs.ordering import InOrder, Partition


@dataclass
class Message:
    topic: str
    partition: int
    offset: int


@dataclass
class Event:
    message: Message


def events(*offsets: int, partition: int = 0) -> list[Event]:
    return [Event(Message("tally.events", partition, offset)) for offset in offsets]


def offsets(kept: list[Event]) -> list[int]:
    return [event.message.offset for event in kept]


P0: Partition = ("tally.events", 0)


def test_records_from_the_committed_offset_on_pass_in_order() -> None:
    order = InOrder()
    kept, seek = order.split(events(5, 6, 7), lambda p: 5)
    assert (offsets(kept), seek) == ([5, 6, 7], {})
    kept, seek = order.split(events(8, 9), lambda p: 5)
    assert (offsets(kept), seek) == ([8, 9], {})


def test_a_hole_at_the_head_is_sought_back_to_the_committed_offset() -> None:
    kept, seek = InOrder().split(events(363, 364), lambda p: 234)
    assert (offsets(kept), seek) == ([], {P0: 234})


def test_a_hole_midway_keeps_what_came_before_it_and_nothing_after() -> None:
    order = InOrder()
    kept, seek = order.split(
        events(10, 11, 15, 12, 16) + events(3, 4, partition=1), lambda p: 10 if p == P0 else 3
    )
    assert offsets(kept) == [10, 11, 3, 4]
    assert seek == {P0: 12}
    kept, seek = order.split(events(12, 13, 14, 15), lambda p: 10)
    assert (offsets(kept), seek) == ([12, 13, 14, 15], {})


def test_redeliveries_pass_and_with_nothing_known_the_first_record_is_trusted() -> None:
    order = InOrder()
    kept, seek = order.split(events(7, 8), lambda p: None)
    assert (offsets(kept), seek) == ([7, 8], {})
    kept, seek = order.split(events(6, 7, 8, 9), lambda p: None)
    assert (offsets(kept), seek) == ([6, 7, 8, 9], {})


def test_a_never_committed_partition_is_expected_from_its_log_start() -> None:
    """Fault seed 6: offset 0 (a reserve) never delivered, its resend at offset 1 came first."""
    order = InOrder()
    kept, seek = order.split(events(1, 2), lambda p: None, {P0: 0})
    assert (offsets(kept), seek) == ([], {P0: 0})
    kept, seek = order.split(events(0, 1, 2), lambda p: None, {P0: 0})
    assert (offsets(kept), seek) == ([0, 1, 2], {})


def test_a_log_start_past_zero_is_where_the_partition_begins() -> None:
    kept, seek = InOrder().split(events(40, 41), lambda p: None, {P0: 40})
    assert (offsets(kept), seek) == ([40, 41], {})


def test_a_committed_offset_wins_over_the_log_start() -> None:
    kept, seek = InOrder().split(events(7, 8), lambda p: 7, {P0: 0})
    assert (offsets(kept), seek) == ([7, 8], {})


def test_log_starts_keyed_by_faust_s_tp_are_found() -> None:
    """The rewind keeps its starts keyed by faust's `TP` (a NamedTuple), handed over as they
    are: each must be found for the plain (topic, partition) of a record."""
    kept, seek = InOrder().split(events(1, 2), lambda p: None, {TP(*P0): 0})
    assert (offsets(kept), seek) == ([], {P0: 0})
