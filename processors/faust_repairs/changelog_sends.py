"""Hand a batch's changelog records to Kafka's producers in one step, not one loop turn each.

faust-streaming 0.15 sends a table write (`Collection.send_changelog`) through its producer
buffer: a task takes each record in turn through `Topic.publish_message`, the sensors and
the transaction manager, and the event loop runs other work between two records. With the
pipeline folding the next batch meanwhile, a batch's records reached aiokafka over 15-35 ms
at 25 % load (40-70 records; up to 6 ms between two), most of its wait for the changelog
acks (`tally_batch_phase_seconds{phase="durable"}`).

Here the records are appended to the partition's producer back to back, as Faust's own
`Producer.send` does it (under exactly-once the partition's transactional producer, holding
its transaction lock so never while that transaction commits), and the highest offset
acknowledged per partition is recorded as Faust's `Table._on_changelog_sent` does it (under
exactly-once persisted with the commit). A batch's partitions are handed over side by side,
each after the earlier batches' records of that partition, so a key written by two batches
ends with the later value, and a partition whose transaction is committing holds up only its
own records (faust-streaming commits the partitions one after another, each under its lock;
handed over one partition after another, a batch followed the commit through all of them).
After a failed hand-over nothing more is sent: the worker restarts.

`write` puts a batch's keys in the table's store (one RocksDB write batch per partition,
`store_writes`) and sends them, in one step. Each batch's partitions are noted in the
table's `dirty_store` tracker when the batch is sent (in that same step), and again once
handed to a transaction (or, without transactions, acknowledged): a rebalance then rebuilds
a partition whose store writes no commit covered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from faust.types import TP

from processors.faust_repairs import dirty_store
from processors.faust_repairs.store_writes import StoreWrite, write_partition

# (partition, key, value); a None value is a tombstone
ChangelogRecord = tuple[int, bytes, bytes | None]


class ChangelogSender:
    """Sends one table's changelog records, batch after batch."""

    def __init__(self, app: Any, table: Any) -> None:
        self._app = app
        self._table = table
        # each partition's last hand-over: a batch's records follow the earlier batches'
        # records of their partition only, so one partition's commit holds up no other
        self._handed: dict[int, asyncio.Future[None]] = {}
        self._failed: BaseException | None = None  # a hand-over failed: nothing more is sent
        self._dirty = dirty_store.track(table)

    def write(self, records: Sequence[ChangelogRecord]) -> asyncio.Future[None]:
        """Write `records` to the table's store (each partition's keys in one RocksDB write
        batch, `store_writes`) and start sending them, in one step; the future is `send`'s."""
        by_partition = _by_partition(records)
        for partition, pairs in by_partition.items():
            write_partition(self._table, partition, pairs)
        return self._send(by_partition)

    def send(self, records: Sequence[ChangelogRecord]) -> asyncio.Future[None]:
        """Start sending `records`, each partition's after the earlier batches' records of
        that partition were handed over; the future resolves once Kafka acknowledged all of
        them. Call it in the same step as the batch's store writes."""
        return self._send(_by_partition(records))

    def _send(self, by_partition: dict[int, list[StoreWrite]]) -> asyncio.Future[None]:
        writes = {partition: self._dirty.wrote(partition) for partition in by_partition}
        hand_overs = []
        for partition, pairs in sorted(by_partition.items()):
            handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            earlier = self._handed.get(partition)
            hand_overs.append(
                asyncio.ensure_future(
                    self._hand_over(partition, pairs, writes[partition], earlier, handed)
                )
            )
            self._handed[partition] = handed
        return asyncio.ensure_future(self._acknowledged(hand_overs, writes))

    async def _acknowledged(
        self, hand_overs: Sequence[asyncio.Future[list[Any]]], writes: dict[int, int]
    ) -> None:
        acks: list[asyncio.Future[Any]] = []
        for handed in await asyncio.gather(*hand_overs, return_exceptions=True):
            if isinstance(handed, BaseException):
                raise handed
            acks += handed
        self._note_offsets(await asyncio.gather(*acks))
        if not self._app.in_transaction:  # acknowledged is durable: nothing left to commit
            self._dirty.committed(writes)

    async def _hand_over(
        self,
        partition: int,
        pairs: list[StoreWrite],
        write: int,
        earlier: asyncio.Future[None] | None,
        handed: asyncio.Future[None],
    ) -> list[asyncio.Future[Any]]:
        try:
            if earlier is not None:
                await asyncio.shield(earlier)
            if self._failed is not None:  # never sent after a batch that was not
                raise self._failed
            acks = await self._append(partition, pairs, write)
        except asyncio.CancelledError:
            handed.cancel()
            raise
        except BaseException as error:
            self._failed = self._failed or error
            handed.set_exception(error)
            handed.exception()  # retrieved: the next batch may be none (the worker restarts)
            raise
        handed.set_result(None)
        return acks

    async def _append(
        self, partition: int, pairs: list[StoreWrite], write: int
    ) -> list[asyncio.Future[Any]]:
        topic = self._table.changelog_topic.get_topic_name()
        producer, lock, transactional_id = self._producer_for(topic, partition)
        async with lock:
            acks = [
                await producer.send(topic, value, key=key, partition=partition)
                for key, value in pairs
            ]
            if transactional_id is not None:  # in the transaction before it can commit
                self._dirty.handed(partition, write, transactional_id)
            return acks

    def _producer_for(self, topic: str, partition: int) -> tuple[Any, Any, str | None]:
        """The producer Faust's own send would use for the partition, the lock it holds and
        the transactional id: the partition's transactional producer and its transaction
        lock under exactly-once, else the one producer, no lock and no id."""
        app = self._app
        faust_producer = app.producer
        if not app.in_transaction:
            return faust_producer._ensure_producer(), contextlib.nullcontext(), None
        # the transactional id Faust's TransactionManager.send gives this partition's records
        transactional_id = f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"
        producer = faust_producer._transaction_producers.get(transactional_id)
        if producer is None:
            raise RuntimeError(f"no transactional producer for {transactional_id}")
        return producer, faust_producer._trn_locks[transactional_id], transactional_id

    def _note_offsets(self, acknowledged: Sequence[Any]) -> None:
        """The highest acknowledged offset per partition, as Faust records a changelog send."""
        highest: dict[TP, int] = {}
        for metadata in acknowledged:
            tp = TP(metadata.topic, metadata.partition)
            highest[tp] = max(highest.get(tp, -1), metadata.offset)
        store = self._table.data
        for tp, offset in highest.items():
            if self._app.in_transaction:
                self._app.tables.persist_offset_on_commit(store, tp, offset)
            else:
                store.set_persisted_offset(tp, offset)


def _by_partition(records: Sequence[ChangelogRecord]) -> dict[int, list[StoreWrite]]:
    by_partition: dict[int, list[StoreWrite]] = defaultdict(list)
    for partition, key, value in records:
        by_partition[partition].append((key, value))
    return by_partition
