"""processors.faust_repairs.rewind: a seek to committed offsets also rewinds never-committed
partitions."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from faust.types import TP

from processors.faust_repairs import rewind

EVENTS, COMMANDS, CHANGELOG = "tally.events", "tally.commands", "app-positions-changelog"


class FakeConsumer:
    """What rewind uses of Faust's consumer; `perform_seek` seeks what was committed (> 0)."""

    def __init__(self, committed: dict[TP, int | None], firsts: dict[TP, int]) -> None:
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._broker_committed = committed
        self._firsts = firsts
        self.positions: dict[TP, int] = {tp: 99 for tp in firsts}  # fetched past, dropped
        self.seeks: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return set(self._firsts)

    async def perform_seek(self) -> None:
        for tp, offset in self._broker_committed.items():
            if offset:  # aiokafka's seek_to_committed: `if offset and offset > 0`
                self.positions[tp] = offset
                self._committed_offset[tp] = offset

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self._firsts[tp] for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset


def test_a_never_committed_partition_is_sought_to_its_first_offset() -> None:
    committed_tp, fresh, zero, changelog = (
        TP(EVENTS, 0),
        TP(COMMANDS, 2),
        TP(COMMANDS, 3),
        TP(CHANGELOG, 2),
    )
    consumer = FakeConsumer(
        {committed_tp: 21, fresh: None, zero: 0},
        {committed_tp: 0, fresh: 0, zero: 4, changelog: 0},
    )
    rewind.install(consumer, (EVENTS, COMMANDS))
    rewind.install(consumer, (EVENTS, COMMANDS))  # idempotent: one wrapper
    asyncio.run(consumer.perform_seek())
    assert consumer.positions == {committed_tp: 21, fresh: 0, zero: 4, changelog: 99}
    assert sorted(consumer.seeks) == [(fresh, 0), (zero, 4)]


def test_nothing_to_rewind_when_every_partition_was_committed() -> None:
    tp = TP(EVENTS, 1)
    consumer = FakeConsumer({tp: 7}, {tp: 0})
    asyncio.run(consumer.perform_seek())
    assert asyncio.run(rewind.rewind_uncommitted(consumer, (EVENTS,))) == {}
    assert consumer.seeks == []


def test_the_log_starts_found_are_kept_until_the_next_assignment() -> None:
    committed_tp, fresh = TP(EVENTS, 0), TP(COMMANDS, 2)
    consumer = FakeConsumer({committed_tp: 21, fresh: None}, {committed_tp: 0, fresh: 3})
    rewind.install(consumer, (EVENTS, COMMANDS))
    assert rewind.log_starts(consumer) == {}
    asyncio.run(consumer.perform_seek())
    assert rewind.log_starts(consumer) == {fresh: 3}  # the committed one is not a start
    rewind.forget_log_starts(consumer)
    assert rewind.log_starts(consumer) == {}
