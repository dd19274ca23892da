"""Under exactly-once, keep each table partition's store equal to its committed changelog
across a rebalance.

A batch writes its keys to the partition's RocksDB store at once and sends their changelog
records in the partition's open transaction; faust-streaming never rolls the store back. A
partition moved away at a rebalance has its producer stopped and its open transaction
aborted by the next owner: the store keeps writes the changelog never got, and the table's
writes are differences from the stored state (base.table_layout: a sealed chunk is written
once, the holds part only when it changed), so a later write of the SKU there would put a
core in the changelog beside parts it never had.

A partition the worker keeps through the rebalance keeps its transactional producer
and its open transaction (Faust also keeps its acknowledged offsets, and commits them with
the next transaction: those batches are not replayed). Recovery restores the store from the
changelog up to its last stable offset, which that open transaction holds back: keys the
changelog has newer records for go back to older values, the rest keep the transaction's.
The changelog of seed 219 ends with a core folded from such a mix: a pending hold its
reserved bucket no longer counts.

So at a rebalance, before Faust's recovery reads the store, each transaction still open is
committed as it is, without offsets: its changelog records become visible to recovery, and
the source records they came from are committed with Faust's next commit (or replayed after
a crash, which the ledger's idempotency makes harmless, as with at_least_once). Aborting it
instead lost those batches: Faust commits their offsets anyway (fault hunt seeds 220, 221).
Kafka Streams wipes a store closed dirty under exactly-once; here each partition counts its
store writes, the ones handed to its transaction, and the ones a successful commit covered,
and a partition still written past its last commit (its producer stopped, fenced, or the
commit failed) is wiped: recovery restores it from its changelog like a new worker's.

The same count says which changelog offsets a commit made visible, and those are persisted
in the store (where Faust's recovery starts reading). faust-streaming's own path never
persists one under exactly-once: `persist_offset_on_commit` keeps them by changelog
partition, and the commit looks them up by the *source* partitions it committed, which
never match (robinhood/faust#599, open). So every restart, even after a clean stop, read
each changelog from its first offset.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.errors import KafkaError
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP

from processors import metrics

log = logging.getLogger("tally.worker")
_TRACKER_ATTR = "_tally_dirty_partitions"  # on a table: its DirtyPartitions
_installed = False


class DirtyPartitions:
    """Per table partition: the last batch's store writes, the last handed to the partition's
    transaction, and the last a successful commit covered (one sequence over all)."""

    def __init__(self) -> None:
        self._seq = 0
        self._written: dict[int, int] = {}
        self._handed: dict[int, int] = {}
        self._transaction: dict[int, str] = {}  # partition -> the transactional id it went in
        self._committed: dict[int, int] = {}
        # partition -> (write, its changelog records' last offset) acknowledged by Kafka and
        # not yet known committed
        self._acked: dict[int, list[tuple[int, int]]] = {}

    def wrote(self, partition: int) -> int:
        """A batch wrote the partition's store; its sequence number, for `handed`."""
        self._seq += 1
        self._written[partition] = self._seq
        return self._seq

    def handed(self, partition: int, seq: int, transactional_id: str) -> None:
        """The changelog records of write `seq` are in `transactional_id`'s transaction."""
        self._handed[partition] = max(self._handed.get(partition, 0), seq)
        self._transaction[partition] = transactional_id

    def commit_starting(self, transactional_ids: Iterable[str]) -> dict[int, int]:
        """What the commit of these transactions will cover at least: per partition, the
        last write handed to one of them before the commit began."""
        ids = set(transactional_ids)
        return {p: self._handed[p] for p, tid in self._transaction.items() if tid in ids}

    def acked(self, partition: int, seq: int, offset: int) -> None:
        """Kafka acknowledged write `seq`'s changelog records, the last at `offset`."""
        self._acked.setdefault(partition, []).append((seq, offset))

    def committed(self, covered: Mapping[int, int]) -> dict[int, int]:
        """A commit covered these writes (`commit_starting`'s); returns per partition the
        highest changelog offset it made visible, of the writes acknowledged so far (an ack
        noted after the commit is returned by a later one)."""
        visible: dict[int, int] = {}
        for partition, seq in covered.items():
            self._committed[partition] = max(self._committed.get(partition, 0), seq)
            acked = self._acked.get(partition, [])
            offsets = [offset for write, offset in acked if write <= seq]
            if offsets:
                visible[partition] = max(offsets)
                self._acked[partition] = [(w, o) for w, o in acked if w > seq]
        return visible

    def take_dirty(self) -> set[int]:
        """Partitions with writes no commit covered; forgotten (they are being rebuilt)."""
        dirty = {p for p, seq in self._written.items() if seq > self._committed.get(p, 0)}
        for partition in dirty:
            for marks in (
                self._written,
                self._handed,
                self._transaction,
                self._committed,
                self._acked,
            ):
                marks.pop(partition, None)
        return dirty


def track(table: Any) -> DirtyPartitions:
    """The table's tracker (created once); its store is rebuilt where the tracker says."""
    tracker: DirtyPartitions | None = getattr(table, _TRACKER_ATTR, None)
    if tracker is None:
        tracker = DirtyPartitions()
        setattr(table, _TRACKER_ATTR, tracker)
    return tracker


def install() -> None:
    """Patch Faust's producer (commits noted) and RocksDB store (dirty partitions wiped at a
    rebalance); once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    commit_transactions = AIOKafkaProducer.commit_transactions
    on_rebalance = RocksDBStore.on_rebalance

    async def noting_commits(
        self: Any, tid_to_offset_map: Mapping[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        tracked = _tracked_tables(self.app)
        covered = [tracker.commit_starting(tid_to_offset_map) for _, tracker in tracked]
        await commit_transactions(self, tid_to_offset_map, *args, **kwargs)
        for (table, tracker), upto in zip(tracked, covered, strict=True):
            persist_offsets(table, tracker.committed(upto))

    async def wiping_dirty(self: Any, *args: Any, **kwargs: Any) -> None:
        tracker: DirtyPartitions | None = getattr(self.table, _TRACKER_ATTR, None)
        if tracker is not None:
            await commit_open_transactions(self.table, tracker)
            async with self.db_lock:
                for partition in sorted(tracker.take_dirty()):
                    wipe_partition(self, partition)
        await on_rebalance(self, *args, **kwargs)

    AIOKafkaProducer.commit_transactions = noting_commits  # type: ignore[method-assign]
    RocksDBStore.on_rebalance = wiping_dirty  # type: ignore[method-assign]


async def commit_open_transactions(table: Any, tracker: DirtyPartitions) -> None:
    """Commit each transaction with records in it, without offsets, and begin the next. A
    producer that cannot (fenced: the partition's new owner aborted it already) is left to
    Faust, its partitions dirty."""
    producer = table.app.producer
    producers: Mapping[str, Any] = getattr(producer, "_transaction_producers", {})
    for transactional_id, transactional in sorted(producers.items()):
        manager = transactional._txn_manager
        if not manager.is_in_transaction() or manager.is_empty_transaction():
            continue
        async with producer._trn_locks[transactional_id]:
            covered = tracker.commit_starting([transactional_id])
            try:
                await transactional.commit_transaction()
                await transactional.begin_transaction()
            except KafkaError as error:
                log.warning("transaction %s not committed: %r", transactional_id, error)
                continue
        persist_offsets(table, tracker.committed(covered))
        log.info("committed transaction %s, open through a rebalance", transactional_id)
        metrics.DELIVERY_REPAIRS.labels("transaction_committed").inc()


def persist_offsets(table: Any, offsets: Mapping[int, int]) -> None:
    """Persist the table's committed changelog offsets (by partition) in its store, where
    Faust's recovery starts reading after a restart."""
    if not offsets:
        return
    topic = table.changelog_topic.get_topic_name()
    for partition, offset in offsets.items():
        table.data.set_persisted_offset(TP(topic, partition), offset)


def _tracked_tables(app: Any) -> list[tuple[Any, DirtyPartitions]]:
    """(table, its tracker) for every table that has one."""
    tables = getattr(app, "tables", {})
    return [
        (table, tracker)
        for table in tables.values()
        if (tracker := getattr(table, _TRACKER_ATTR, None)) is not None
    ]


def wipe_partition(store: Any, partition: int) -> None:
    """Close and delete the partition's RocksDB; Faust reopens it empty, without a changelog
    offset, and its recovery restores the partition from the changelog's start."""
    db = store._dbs.pop(partition, None)
    if db is not None:
        db.close()
    store._key_index.clear()  # keys found in the wiped partition are looked up again
    shutil.rmtree(store.partition_path(partition), ignore_errors=True)
    log.warning(
        "%s partition %d held writes of a transaction that never committed: "
        "restoring it from its changelog",
        store.table.name,
        partition,
    )
    metrics.DELIVERY_REPAIRS.labels("store_rebuilt").inc()
