"""dirty_store: a table partition whose store writes no transaction commit covered is found,
and at the next rebalance wiped before Faust's recovery reads it (restored from its
changelog); a partition whose writes all committed keeps its store."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.errors import ProducerFenced
from faust.types import TP

from processors.faust_repairs import dirty_store
from processors.faust_repairs.dirty_store import DirtyPartitions, track

TID_0, TID_1 = "app-1-0", "app-1-1"


def test_a_write_no_commit_covered_is_dirty() -> None:
    tracker = DirtyPartitions()
    tracker.handed(0, tracker.wrote(0), TID_0)
    assert tracker.take_dirty() == {0}


def test_a_write_handed_before_the_commit_began_is_clean_once_it_succeeded() -> None:
    tracker = DirtyPartitions()
    tracker.handed(0, tracker.wrote(0), TID_0)
    covered = tracker.commit_starting([TID_0])
    tracker.committed(covered)
    assert tracker.take_dirty() == set()


def test_a_write_after_the_commit_began_stays_dirty() -> None:
    tracker = DirtyPartitions()
    tracker.handed(0, tracker.wrote(0), TID_0)
    covered = tracker.commit_starting([TID_0])
    tracker.wrote(0)  # the next batch: its records go in the next transaction
    tracker.committed(covered)
    assert tracker.take_dirty() == {0}


def test_a_write_not_yet_handed_is_not_covered_by_a_commit() -> None:
    tracker = DirtyPartitions()
    tracker.handed(0, tracker.wrote(0), TID_0)
    later = tracker.wrote(0)  # stored, its records still waiting for the earlier hand-over
    tracker.committed(tracker.commit_starting([TID_0]))
    tracker.handed(0, later, TID_0)
    assert tracker.take_dirty() == {0}


def test_a_failed_commit_or_another_transaction_s_leaves_it_dirty() -> None:
    tracker = DirtyPartitions()
    tracker.handed(0, tracker.wrote(0), TID_0)
    tracker.handed(1, tracker.wrote(1), TID_1)
    tracker.commit_starting([TID_0])  # ... and the commit raised: `committed` never called
    tracker.committed(tracker.commit_starting([TID_1]))
    assert tracker.take_dirty() == {0}


def test_dirty_partitions_are_taken_once() -> None:
    tracker = DirtyPartitions()
    tracker.wrote(3)
    assert tracker.take_dirty() == {3}
    assert tracker.take_dirty() == set()  # being rebuilt: clean until written again


def test_a_commit_returns_the_changelog_offsets_it_made_visible() -> None:
    tracker = DirtyPartitions()
    first = tracker.wrote(0)
    tracker.handed(0, first, TID_0)
    tracker.acked(0, first, 10)
    covered = tracker.commit_starting([TID_0])
    later = tracker.wrote(0)  # after the commit began: in the next transaction
    tracker.handed(0, later, TID_0)
    tracker.acked(0, later, 14)
    assert tracker.committed(covered) == {0: 10}  # not 14: its transaction is still open
    assert tracker.committed(tracker.commit_starting([TID_0])) == {0: 14}
    assert tracker.committed(tracker.commit_starting([TID_0])) == {}  # nothing new


def test_an_ack_noted_after_its_commit_is_returned_by_the_next_one() -> None:
    tracker = DirtyPartitions()
    write = tracker.wrote(1)
    tracker.handed(1, write, TID_1)
    assert tracker.committed(tracker.commit_starting([TID_1])) == {}  # the ack not seen yet
    tracker.acked(1, write, 7)
    assert tracker.committed(tracker.commit_starting([TID_1])) == {1: 7}


def test_an_uncommitted_ack_is_forgotten_with_its_dirty_partition() -> None:
    tracker = DirtyPartitions()
    write = tracker.wrote(0)
    tracker.handed(0, write, TID_0)
    tracker.acked(0, write, 5)  # its transaction was aborted: never covered by a commit
    assert tracker.take_dirty() == {0}
    assert tracker.committed({0: write}) == {}  # wiped and rebuilt: nothing to persist


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    """A Faust table on Faust's own RocksDB store (as the worker's), never started."""
    app = faust.App("dirty-store-test", store="rocksdb://", datadir=tmp_path)
    yield app.Table("positions", key_type=bytes, value_type=bytes, partitions=2)


def _changelog_tp(table: Any, partition: int) -> TP:
    return TP(table.changelog_topic.get_topic_name(), partition)


def test_the_rebalance_wipes_a_dirty_partition_and_keeps_a_clean_one(table: Any) -> None:
    dirty_store.install()
    store = table.data
    for partition in (0, 1):
        store._db_for_partition(partition).put(b"sku", b"uncommitted?")
        store.set_persisted_offset(_changelog_tp(table, partition), 41)
    tracker = track(table)
    tracker.handed(0, tracker.wrote(0), TID_0)  # partition 0: never committed
    tracker.handed(1, tracker.wrote(1), TID_1)
    tracker.committed(tracker.commit_starting([TID_1]))  # partition 1: committed
    asyncio.run(store.on_rebalance(set(), set(), set()))
    assert store._db_for_partition(0).get(b"sku") is None
    assert store.persisted_offset(_changelog_tp(table, 0)) is None  # recovery: from the start
    assert store._db_for_partition(1).get(b"sku") == b"uncommitted?"
    assert store.persisted_offset(_changelog_tp(table, 1)) == 41
    assert track(table) is tracker and tracker.take_dirty() == set()


def test_committed_offsets_are_persisted_where_faust_s_recovery_starts(table: Any) -> None:
    tracker = track(table)
    write = tracker.wrote(1)
    tracker.handed(1, write, TID_1)
    tracker.acked(1, write, 57)
    dirty_store.persist_offsets(table, tracker.committed(tracker.commit_starting([TID_1])))
    assert table.data.persisted_offset(_changelog_tp(table, 1)) == 57
    assert table.data.persisted_offset(_changelog_tp(table, 0)) is None


def test_a_table_without_a_tracker_is_left_alone(table: Any) -> None:
    dirty_store.install()
    store = table.data
    store._db_for_partition(0).put(b"sku", b"v")
    asyncio.run(store.on_rebalance(set(), set(), set()))
    assert store._db_for_partition(0).get(b"sku") == b"v"


class _TransactionManager:
    def __init__(self, *, in_transaction: bool, empty: bool) -> None:
        self._in, self._empty = in_transaction, empty

    def is_in_transaction(self) -> bool:
        return self._in

    def is_empty_transaction(self) -> bool:
        return self._empty


class _TransactionalProducer:
    """aiokafka's transactional producer as the repair reads and drives it (no broker)."""

    def __init__(self, calls: list[str], tid: str, *, empty: bool, fenced: bool = False) -> None:
        self._txn_manager = _TransactionManager(in_transaction=True, empty=empty)
        self._calls, self._tid, self._fenced = calls, tid, fenced

    async def commit_transaction(self) -> None:
        if self._fenced:
            raise ProducerFenced()
        self._calls.append(f"commit {self._tid}")

    async def begin_transaction(self) -> None:
        self._calls.append(f"begin {self._tid}")


def test_open_transactions_are_committed_before_recovery_and_their_partitions_clean() -> None:
    calls: list[str] = []
    tid_2 = "app-1-2"
    producers = {
        TID_0: _TransactionalProducer(calls, TID_0, empty=False),
        TID_1: _TransactionalProducer(calls, TID_1, empty=True),  # nothing sent: left alone
        tid_2: _TransactionalProducer(calls, tid_2, empty=False, fenced=True),
    }
    faust_producer = SimpleNamespace(
        _transaction_producers=producers, _trn_locks=defaultdict(asyncio.Lock)
    )
    persisted: dict[TP, int] = {}
    table = SimpleNamespace(
        app=SimpleNamespace(producer=faust_producer),
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "changelog"),
        data=SimpleNamespace(set_persisted_offset=persisted.__setitem__),
    )
    tracker = DirtyPartitions()
    for partition, tid, offset in ((0, TID_0, 30), (2, tid_2, 80)):
        write = tracker.wrote(partition)
        tracker.handed(partition, write, tid)
        tracker.acked(partition, write, offset)
    asyncio.run(dirty_store.commit_open_transactions(table, tracker))
    assert calls == [f"commit {TID_0}", f"begin {TID_0}"]  # the fenced one: logged, skipped
    assert persisted == {TP("changelog", 0): 30}  # only what the commit made visible
    assert tracker.take_dirty() == {2}  # its writes never committed: its store is rebuilt
