"""processors.orders.table_writes: an order table's rows go to each partition's store in one
write and to the table's changelog through the partition's transactional producer, and are
tracked, so under exactly-once a partition no commit covered yet is rebuilt at a rebalance
(faust_repairs.dirty_store) as the worker's positions are."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.faust_repairs import ChangelogSender
from processors.faust_repairs.dirty_store import track
from processors.orders.table_writes import write_rows
from tests.processors.faust_repairs.test_changelog_sends import rig


class RecordingRepairs:
    """FaustRepairs' store write, recorded: (table, partition, writes) per call."""

    def __init__(self) -> None:
        self.store_writes: list[tuple[Any, int, list[tuple[bytes, bytes | None]]]] = []

    def write_store(self, table: Any, partition: int, writes: Any) -> None:
        self.store_writes.append((table, partition, list(writes)))


def test_rows_go_to_each_partitions_store_at_once_and_to_its_transaction() -> None:
    repairs = RecordingRepairs()

    async def scenario() -> tuple[Any, Any, list[Any]]:
        app, table, log = rig(exactly_once=True)
        rows = [(1, b"order-a", b"A1"), (0, b"order-b", b"B1"), (1, b"order-c", b"C1")]
        await write_rows(repairs, table, ChangelogSender(app, table), rows)  # type: ignore[arg-type]
        return app, table, log

    app, table, log = asyncio.run(scenario())
    assert sorted((p, w) for t, p, w in repairs.store_writes if t is table) == [
        (0, [(b"order-b", b"B1")]),
        (1, [(b"order-a", b"A1"), (b"order-c", b"C1")]),
    ]
    assert len(repairs.store_writes) == 2  # one write per partition
    assert log == [(0, b"order-b", b"B1"), (1, b"order-a", b"A1"), (1, b"order-c", b"C1")]
    for tid, producer in app.producer._transaction_producers.items():
        assert producer.held_lock and all(producer.held_lock), tid
    # no commit covered them yet: a rebalance now rebuilds both partitions from the changelog
    assert track(table).take_dirty() == {0, 1}


def test_a_committed_write_leaves_its_partition_clean() -> None:
    async def scenario() -> Any:
        app, table, _ = rig(exactly_once=True)
        sender = ChangelogSender(app, table)
        await write_rows(RecordingRepairs(), table, sender, [(0, b"order-a", b"A1")])  # type: ignore[arg-type]
        tracker = track(table)
        tracker.committed(tracker.commit_starting(list(app.producer._transaction_producers)))
        return tracker

    assert asyncio.run(scenario()).take_dirty() == set()


def test_no_rows_write_and_send_nothing() -> None:
    repairs = RecordingRepairs()

    async def scenario() -> list[Any]:
        app, table, log = rig(exactly_once=True)
        await write_rows(repairs, table, ChangelogSender(app, table), [])  # type: ignore[arg-type]
        return log

    assert asyncio.run(scenario()) == []
    assert repairs.store_writes == []
