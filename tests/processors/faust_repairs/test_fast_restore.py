"""The bulk restore on the real broker: the restored store equals the fold of the changelog.

A changelog with overwrites, tombstones and an aborted transaction is restored into RocksDB
(as Faust's store lays it out: one database per partition, raw keys and values); every key
ends at its last committed value, deleted keys and aborted writes are absent, and the
persisted offset is the partition's last offset, where Faust's own recovery goes on.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.types import TP
from rocksdict import Options, Rdict

from base.kafka_client import client_options
from base.settings import Settings
from processors.faust_repairs.fast_restore import RestoreSettings, restore

pytestmark = pytest.mark.integration

PARTITIONS = 2
KEYS = 300
WRITES = 2_000
OFFSET_KEY = b"__faust\0offset__"


class RocksStore:
    """The parts of Faust's RocksDB store the restore uses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dbs: dict[int, Rdict] = {}

    def _db_for_partition(self, partition: int) -> Rdict:
        if partition not in self.dbs:
            path = str(self.root / f"positions-{partition}.db")
            self.dbs[partition] = Rdict(path, options=Options(raw_mode=True))
        return self.dbs[partition]

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self._db_for_partition(tp.partition).put(OFFSET_KEY, str(offset).encode())

    def contents(self, partition: int) -> dict[bytes, bytes]:
        db = self._db_for_partition(partition)
        raw: dict[Any, Any] = dict(db.items())  # raw mode: bytes both ways
        return {k: v for k, v in raw.items() if k != OFFSET_KEY}


def writes(partition: int) -> list[tuple[bytes, bytes | None]]:
    """Overwrites of KEYS keys, every 7th write a tombstone."""
    out: list[tuple[bytes, bytes | None]] = []
    for i in range(WRITES):
        key = f"p{partition}-sku-{i % KEYS}".encode()
        out.append((key, None if i % 7 == 0 else f"state-{i}".encode()))
    return out


def fold(records: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for key, value in records:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


async def create_changelog(settings: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings.kafka))
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"}
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=config)])
    finally:
        await admin.close()


async def write_changelog(settings: Settings, topic: str) -> dict[int, int]:
    """The changelog (plain writes, an aborted transaction, one more write); each partition's
    end."""
    await create_changelog(settings, topic)
    plain = AIOKafkaProducer(**client_options(settings.kafka), acks="all")
    aborting = AIOKafkaProducer(
        **client_options(settings.kafka), transactional_id=f"{topic}-aborted"
    )
    await plain.start()
    await aborting.start()
    try:
        for partition in range(PARTITIONS):
            sent = [
                await plain.send(topic, v, key=k, partition=partition) for k, v in writes(partition)
            ]
            await asyncio.gather(*sent)
        await aborting.begin_transaction()
        for partition in range(PARTITIONS):
            await aborting.send(
                topic, b"ABORTED", key=f"p{partition}-sku-1".encode(), partition=partition
            )
        await aborting.abort_transaction()
        for partition in range(PARTITIONS):
            await plain.send_and_wait(topic, b"final", key=b"last", partition=partition)
        return await log_ends(settings, topic)
    finally:
        await plain.stop()
        await aborting.stop()


async def log_ends(settings: Settings, topic: str) -> dict[int, int]:
    """Each partition's end as a read_committed reader sees it (past the abort marker)."""
    consumer = AIOKafkaConsumer(**client_options(settings.kafka), isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


def restore_settings(settings: Settings, records_min: int = 1) -> RestoreSettings:
    options = client_options(settings.kafka)
    return RestoreSettings(options, read_committed=True, records_min=records_min)


@dataclass
class Changelog:
    topic: str
    ends: dict[int, int]  # partition -> log end
    store: RocksStore
    stores: dict[TP, Any]


@pytest.fixture
def changelog(live_stack: Settings, tmp_path: Path) -> Changelog:
    """A written changelog of its own, and an empty store for each of its partitions."""
    topic = f"t{uuid.uuid4().hex[:10]}-positions-changelog"
    ends = asyncio.run(write_changelog(live_stack, topic))
    store = RocksStore(tmp_path)
    return Changelog(topic, ends, store, {TP(topic, p): store for p in range(PARTITIONS)})


def test_the_restored_store_equals_the_fold_of_the_committed_changelog(
    live_stack: Settings, changelog: Changelog
) -> None:
    stores, store = changelog.stores, changelog.store

    done = asyncio.run(restore(restore_settings(live_stack), stores, dict.fromkeys(stores)))

    for partition in range(PARTITIONS):
        expected = fold([*writes(partition), (b"last", b"final")])
        assert store.contents(partition) == expected
        assert done[TP(changelog.topic, partition)] == changelog.ends[partition] - 1
        persisted = store._db_for_partition(partition).get(OFFSET_KEY)
        assert persisted == str(changelog.ends[partition] - 1).encode()


def test_partitions_fewer_records_behind_than_the_bound_are_left_to_faust(
    live_stack: Settings, changelog: Changelog
) -> None:
    nearly_done = {tp: changelog.ends[tp.partition] - 10 for tp in changelog.stores}
    settings = restore_settings(live_stack, records_min=100)

    done = asyncio.run(restore(settings, changelog.stores, nearly_done))

    assert done == {}
    assert all(not changelog.store.contents(p) for p in range(PARTITIONS))


async def write_transactions(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    """Partition 0 ends in a committed transaction, partition 1 in an aborted one (as a
    worker's changelog does after a commit, and after a crash its successor fenced); each
    partition's (offset of its last committed record, log end)."""
    await create_changelog(settings, topic)
    producer = AIOKafkaProducer(**client_options(settings.kafka), transactional_id=topic)
    await producer.start()
    last: dict[int, int] = {}
    try:
        async with producer.transaction():
            for partition in range(PARTITIONS):
                sent = await producer.send_and_wait(topic, b"kept", key=b"k", partition=partition)
                last[partition] = sent.offset
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"ABORTED", key=b"k", partition=1)
        await producer.abort_transaction()
    finally:
        await producer.stop()
    ends = await log_ends(settings, topic)
    return {partition: (last[partition], ends[partition]) for partition in range(PARTITIONS)}


def test_a_changelog_ending_in_transaction_markers_is_read_to_its_end(
    live_stack: Settings, tmp_path: Path
) -> None:
    """The store holds every committed record, and only markers (or aborted records) follow.
    Faust's own recovery counts those as records still to come and waits two 5 s idle spells
    before giving up on them (`detect_aborted_tx`); with the default bound the bulk read
    takes these partitions too and hands Faust their end, so recovery ends at once."""
    topic = f"t{uuid.uuid4().hex[:10]}-positions-changelog"
    tails = asyncio.run(write_transactions(live_stack, topic))
    store = RocksStore(tmp_path)
    stores: dict[TP, Any] = {TP(topic, p): store for p in range(PARTITIONS)}
    persisted: dict[TP, int | None] = {tp: tails[tp.partition][0] for tp in stores}
    records_min = live_stack.worker.bulk_restore_records_min

    done = asyncio.run(restore(restore_settings(live_stack, records_min), stores, persisted))

    for partition, (last_record, end) in tails.items():
        assert end > last_record + 1  # markers (and an aborted record) follow the last record
        assert done[TP(topic, partition)] == end - 1
        assert store.contents(partition) == {}  # nothing committed was left to write
