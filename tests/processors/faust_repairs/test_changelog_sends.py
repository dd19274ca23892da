"""processors.faust_repairs.changelog_sends: a batch's changelog records reach each partition's
producer back to back, under the partition's transaction lock; batches keep their order even
when one waits for a commit; the highest acknowledged offset per partition is recorded as
Faust records a changelog send; a failed send fails the batch's future. `write` puts each
partition's keys in its RocksDB store in one step with the send, and the partitions stay
dirty (rebuilt at a rebalance) until a commit covers them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from processors.faust_repairs.changelog_sends import ChangelogSender
from processors.faust_repairs.dirty_store import persist_offsets, track

APP_ID = "tally"
TOPIC = "tally-positions-changelog"


@dataclass
class Metadata:
    topic: str
    partition: int
    offset: int


@dataclass
class FakeBatch:
    """aiokafka's `create_batch()` builder: takes records until `capacity` (then None)."""

    capacity: int
    records: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return object()


@dataclass
class FakeKafkaProducer:
    """Records each batch handed over; acknowledges it at once with the partition's next
    offsets (the ack names the batch's first record, as Kafka's does)."""

    log: list[tuple[int, bytes, bytes | None]]
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    transactional_id: str | None = None
    fail_on: bytes | None = None
    offsets: dict[int, int] = field(default_factory=dict)
    held_lock: list[bool] = field(default_factory=list)
    batch_capacity: int = 1_000
    batches: list[int] = field(default_factory=list)  # records per batch handed over

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_capacity)

    async def send_batch(
        self, batch: FakeBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Metadata]:
        assert topic == TOPIC
        if any(key == self.fail_on for key, _ in batch.records):
            raise RuntimeError("broker said no")
        if self.transactional_id is not None:
            self.held_lock.append(self.locks[self.transactional_id].locked())
        self.log += [(partition, key, value) for key, value in batch.records]
        self.batches.append(len(batch.records))
        first = self.offsets.get(partition, 100)
        self.offsets[partition] = first + len(batch.records)
        acked: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        acked.set_result(Metadata(topic, partition, first))
        return acked


class FakeStore:
    def __init__(self) -> None:
        self.persisted: dict[Any, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tuple(tp)] = offset


def rig(*, exactly_once: bool, partitions: int = 2) -> tuple[Any, Any, list[Any]]:
    """(app, table, send log) with Faust's producer shape: per-partition transactional
    producers and locks under exactly-once, one producer otherwise."""
    log: list[Any] = []
    locks = {f"{APP_ID}-0-{p}": asyncio.Lock() for p in range(partitions)}
    transactional = {tid: FakeKafkaProducer(log, locks, transactional_id=tid) for tid in locks}
    plain = FakeKafkaProducer(log)
    faust_producer = SimpleNamespace(
        _trn_locks=locks,
        _transaction_producers=transactional,
        _ensure_producer=lambda: plain,
    )
    app = SimpleNamespace(
        in_transaction=exactly_once,
        producer=faust_producer,
        conf=SimpleNamespace(id=APP_ID),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
        plain=plain,
    )
    table = SimpleNamespace(
        changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPIC), data=FakeStore()
    )
    return app, table, log


def test_a_batch_goes_to_each_partitions_transactional_producer_under_its_lock() -> None:
    async def scenario() -> tuple[Any, Any, list[Any]]:
        app, table, log = rig(exactly_once=True)
        sender = ChangelogSender(app, table)
        await sender.send([(1, b"a", b"1"), (0, b"b", b"2"), (1, b"c", None)])
        return app, table, log

    app, table, log = asyncio.run(scenario())
    assert log == [(0, b"b", b"2"), (1, b"a", b"1"), (1, b"c", None)]
    for tid, producer in app.producer._transaction_producers.items():
        assert producer.held_lock and all(producer.held_lock), tid
    # exactly-once: nothing persisted before a commit covers it ...
    assert table.data.persisted == {}
    # ... then the highest offset per partition the commit made visible
    tracker = track(table)
    covered = tracker.commit_starting(list(app.producer._transaction_producers))
    persist_offsets(table, tracker.committed(covered))
    assert table.data.persisted == {(TOPIC, 0): 100, (TOPIC, 1): 101}


def test_at_least_once_sends_through_the_one_producer_and_persists_the_offsets_at_once() -> None:
    async def scenario() -> tuple[Any, Any, list[Any]]:
        app, table, log = rig(exactly_once=False)
        await ChangelogSender(app, table).send([(0, b"a", b"1"), (0, b"b", b"2")])
        return app, table, log

    _app, table, log = asyncio.run(scenario())
    assert log == [(0, b"a", b"1"), (0, b"b", b"2")]
    assert table.data.persisted == {(TOPIC, 0): 101}


def test_records_beyond_a_record_batch_go_in_more_batches_and_the_last_offset_counts() -> None:
    async def scenario() -> tuple[Any, Any, list[Any]]:
        app, table, log = rig(exactly_once=False)
        app.plain.batch_capacity = 2
        records = [(0, f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]
        await ChangelogSender(app, table).send([*records, (1, b"x", b"y")])
        return app, table, log

    app, table, log = asyncio.run(scenario())
    assert [key for _, key, _ in log] == [b"k0", b"k1", b"k2", b"k3", b"k4", b"x"]
    assert app.plain.batches == [2, 2, 1, 1]
    # each ack names its batch's first record: the last of partition 0's five is 100 + 4
    assert table.data.persisted == {(TOPIC, 0): 104, (TOPIC, 1): 100}


def test_a_later_batch_waits_for_an_earlier_one_held_up_by_a_commit() -> None:
    async def scenario() -> list[Any]:
        app, table, log = rig(exactly_once=True)
        sender = ChangelogSender(app, table)
        committing = app.producer._trn_locks[f"{APP_ID}-0-1"]
        await committing.acquire()  # partition 1's transaction is committing
        first = sender.send([(0, b"k", b"old-0"), (1, b"k1", b"old-1")])
        second = sender.send([(0, b"k", b"new-0"), (1, b"k1", b"new-1")])
        await asyncio.sleep(0.01)
        assert log == [(0, b"k", b"old-0")]  # the second batch did not pass the first
        committing.release()
        await asyncio.gather(first, second)
        return log

    assert asyncio.run(scenario()) == [
        (0, b"k", b"old-0"),
        (1, b"k1", b"old-1"),
        (0, b"k", b"new-0"),
        (1, b"k1", b"new-1"),
    ]


def test_a_failed_send_fails_its_batch_and_every_later_one() -> None:
    async def scenario() -> tuple[BaseException | None, BaseException | None]:
        app, table, _ = rig(exactly_once=True)
        app.producer._transaction_producers[f"{APP_ID}-0-0"].fail_on = b"bad"
        sender = ChangelogSender(app, table)
        first = sender.send([(0, b"bad", b"1")])
        second = sender.send([(1, b"ok", b"2")])
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        return outcomes[0], outcomes[1]

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError)
    assert isinstance(second, RuntimeError)  # never sent after a batch that was not


def test_an_unknown_transactional_producer_is_an_error_not_a_silent_drop() -> None:
    async def scenario() -> None:
        app, table, _ = rig(exactly_once=True, partitions=1)
        await ChangelogSender(app, table).send([(3, b"a", b"1")])

    with pytest.raises(RuntimeError, match="no transactional producer"):
        asyncio.run(scenario())


def rig_with_store(tmp_path: Path) -> tuple[Any, Any, list[Any]]:
    """`rig` under exactly-once, its table's store a real Faust RocksDB store (never started)."""
    app, table, log = rig(exactly_once=True)
    faust_app = faust.App("changelog-sends-test", store="rocksdb://", datadir=tmp_path)
    table.data = faust_app.Table("t", key_type=bytes, value_type=bytes, partitions=2).data
    return app, table, log


def test_a_write_stores_each_partitions_keys_and_sends_them_in_its_transaction(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[Any, Any, list[Any]]:
        app, table, log = rig_with_store(tmp_path)
        rows = [(1, b"order-a", b"A1"), (0, b"order-b", b"B1"), (1, b"order-c", None)]
        await ChangelogSender(app, table).write(rows)
        return app, table, log

    app, table, log = asyncio.run(scenario())
    db = table.data._db_for_partition
    assert (db(0).get(b"order-b"), db(1).get(b"order-a")) == (b"B1", b"A1")
    assert db(0).get(b"order-a") is None and db(1).get(b"order-c") is None  # a tombstone
    assert log == [(0, b"order-b", b"B1"), (1, b"order-a", b"A1"), (1, b"order-c", None)]
    for tid, producer in app.producer._transaction_producers.items():
        assert producer.held_lock and all(producer.held_lock), tid
    # no commit covered them yet: a rebalance now rebuilds both partitions from the changelog
    assert track(table).take_dirty() == {0, 1}


def test_a_written_partition_is_clean_once_a_commit_covered_it(tmp_path: Path) -> None:
    async def scenario() -> Any:
        app, table, _ = rig_with_store(tmp_path)
        await ChangelogSender(app, table).write([(0, b"order-a", b"A1")])
        tracker = track(table)
        tracker.committed(tracker.commit_starting(list(app.producer._transaction_producers)))
        return tracker

    assert asyncio.run(scenario()).take_dirty() == set()
