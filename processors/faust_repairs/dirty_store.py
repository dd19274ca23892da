"""Under exactly-once, rebuild a table partition whose store holds writes that never committed.

A batch writes its keys to the partition's RocksDB store at once and sends their changelog
records in the partition's open transaction. faust-streaming never rolls the store back: at
a rebalance it abandons the open transactions (`stop_transaction`; the next producer with
the same id aborts them), and only the store's changelog offset waits for a commit. The
records after the last commit are replayed, and the replay folds against a store that
already holds their effects: the SKU looks unchanged, so nothing is written again, and what
the store has the changelog never gets. The table's writes are differences from the stored
state (base.table_layout: a sealed chunk is written once, the holds part only when it
changed), so the next write of the SKU put a new core in the changelog beside an older holds
part: a pending hold the core no longer counted, `InvariantBroken: negative bucket` on the
next restore, a crash loop (fault hunt seed 219), and a changelog table behind the log.

Worse, a partition the worker keeps through the rebalance keeps its transactional producer
and its open transaction: recovery restores the store up to the changelog's last stable
offset, the batches replay against that, and then the transaction opened before the
rebalance commits its stale records among the new ones. The changelog of seed 219 holds a
holds part from before the rebalance beside a core from after it.

Kafka Streams does the same under exactly-once: a task closed dirty has its stores wiped and
restored from the changelog. Here each partition counts its store writes, the ones handed to
its transaction, and the ones a successful commit covered. At the next rebalance, before
Faust's recovery reads the store, the transactions still open are aborted (their records
never appear; the offsets they would have committed are replayed), and a partition written
past its last commit is wiped: recovery restores it from its changelog (read committed) like
a new worker's.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.errors import KafkaError
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer

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

    def committed(self, covered: Mapping[int, int]) -> None:
        for partition, seq in covered.items():
            self._committed[partition] = max(self._committed.get(partition, 0), seq)

    def take_dirty(self) -> set[int]:
        """Partitions with writes no commit covered; forgotten (they are being rebuilt)."""
        dirty = {p for p, seq in self._written.items() if seq > self._committed.get(p, 0)}
        for partition in dirty:
            for marks in (self._written, self._handed, self._transaction, self._committed):
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
        trackers = _trackers(self.app)
        covered = [t.commit_starting(tid_to_offset_map) for t in trackers]
        await commit_transactions(self, tid_to_offset_map, *args, **kwargs)
        for tracker, upto in zip(trackers, covered, strict=True):
            tracker.committed(upto)

    async def wiping_dirty(self: Any, *args: Any, **kwargs: Any) -> None:
        tracker: DirtyPartitions | None = getattr(self.table, _TRACKER_ATTR, None)
        if tracker is not None:
            await abort_open_transactions(self.table.app.producer)
            async with self.db_lock:
                for partition in sorted(tracker.take_dirty()):
                    wipe_partition(self, partition)
        await on_rebalance(self, *args, **kwargs)

    AIOKafkaProducer.commit_transactions = noting_commits  # type: ignore[method-assign]
    RocksDBStore.on_rebalance = wiping_dirty  # type: ignore[method-assign]


async def abort_open_transactions(producer: Any) -> None:
    """Abort each transaction with records in it and begin the next; Faust keeps a kept
    partition's producer, and its transaction, through a rebalance. A producer that cannot
    (fenced: the partition's new owner aborted it already) is left to Faust."""
    producers: Mapping[str, Any] = getattr(producer, "_transaction_producers", {})
    for transactional_id, transactional in sorted(producers.items()):
        manager = transactional._txn_manager
        if not manager.is_in_transaction() or manager.is_empty_transaction():
            continue
        async with producer._trn_locks[transactional_id]:
            try:
                await transactional.abort_transaction()
                await transactional.begin_transaction()
            except KafkaError as error:
                log.warning("transaction %s not aborted: %r", transactional_id, error)
                continue
        log.warning(
            "aborted transaction %s, open through a rebalance: its batches replay",
            transactional_id,
        )
        metrics.DELIVERY_REPAIRS.labels("transaction_aborted").inc()


def _trackers(app: Any) -> list[DirtyPartitions]:
    tables = getattr(app, "tables", {})
    return [t for t in (getattr(table, _TRACKER_ATTR, None) for table in tables.values()) if t]


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
