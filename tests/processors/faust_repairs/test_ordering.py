"""processors.faust_repairs.ordering: holes are refused and sought back; redeliveries pass."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaConnectionError
from faust.types import TP

from processors.faust_repairs.ordering import InOrder, Partition, in_partition_order


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    acked: bool = False


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


class FakeConsumer:
    """The three consumer calls the repair makes: assignment, earliest_offsets, seek."""

    def __init__(self, log_starts: dict[TP, int], *, broker_down: bool = False) -> None:
        self.log_starts = log_starts
        self.broker_down = broker_down
        self.asked: list[tuple[TP, ...]] = []
        self.sought: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return set(self.log_starts)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.asked.append(tps)
        if self.broker_down:
            raise KafkaConnectionError("down")
        return {tp: self.log_starts[tp] for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))


def never_committed(partition: Partition) -> int | None:
    return None


def test_with_no_rewind_a_never_committed_partitions_log_start_is_asked_for_first() -> None:
    """Its first record delivered (offset 1) is not trusted: offset 0 is sought for."""
    consumer = FakeConsumer({TP(*P0): 0})
    known: dict[Any, int] = {}
    batch = events(1, 2)
    kept = asyncio.run(in_partition_order(consumer, InOrder(), batch, never_committed, known))
    assert (offsets(list(kept)), consumer.sought) == ([], [(TP(*P0), 0)])
    assert known == {TP(*P0): 0}
    assert all(event.message.acked for event in batch)  # they come again
    order = InOrder()
    kept = asyncio.run(in_partition_order(consumer, order, events(0, 1), never_committed, known))
    assert offsets(list(kept)) == [0, 1]
    assert len(consumer.asked) == 1  # known from then on


def test_a_partition_with_an_expectation_asks_the_broker_nothing() -> None:
    consumer = FakeConsumer({TP(*P0): 0})
    kept = asyncio.run(in_partition_order(consumer, InOrder(), events(5, 6), lambda p: 5, {}))
    assert (offsets(list(kept)), consumer.asked, consumer.sought) == ([5, 6], [], [])


def test_a_broker_that_cannot_say_leaves_the_first_record_trusted() -> None:
    consumer = FakeConsumer({TP(*P0): 0}, broker_down=True)
    kept = asyncio.run(in_partition_order(consumer, InOrder(), events(1, 2), never_committed, {}))
    assert (offsets(list(kept)), consumer.sought) == ([1, 2], [])


def test_records_deleted_before_the_hole_are_skipped_to_the_log_start() -> None:
    """Committed at 5, records 5..7 deleted: the partition goes on from 8, once."""
    consumer = FakeConsumer({TP(*P0): 8})
    order = InOrder()
    kept = asyncio.run(in_partition_order(consumer, order, events(8, 9), lambda p: 5, {}))
    assert (offsets(list(kept)), consumer.sought) == ([], [(TP(*P0), 8)])
    kept = asyncio.run(in_partition_order(consumer, order, events(8, 9), lambda p: 5, {}))
    assert (offsets(list(kept)), consumer.sought) == ([8, 9], [(TP(*P0), 8)])


def test_a_hole_above_the_log_start_is_sought_back_as_before() -> None:
    consumer = FakeConsumer({TP(*P0): 0})
    kept = asyncio.run(in_partition_order(consumer, InOrder(), events(9), lambda p: 5, {}))
    assert (offsets(list(kept)), consumer.sought) == ([], [(TP(*P0), 5)])
