"""Hand a batch's changelog records to Kafka's producers in one step, not one loop turn each.

faust-streaming 0.15 sends a table write (`Collection.send_changelog`) through its producer
buffer: a task takes each record in turn through `Topic.publish_message`, the sensors and
the transaction manager, and the event loop runs other work between two records. With the
pipeline folding the next batch meanwhile, a batch's records reached aiokafka over 15-35 ms
at 25 % load (40-70 records; up to 6 ms between two), most of its wait for the changelog
acks (`tally_batch_phase_seconds{phase="durable"}`).

Here the records are handed to the partition's producer back to back, as whole record
batches (`base.kafka_batches`: a third of `send`'s CPU a record), to the producer Faust's own
`Producer.send` would use (under exactly-once the partition's transactional producer, holding
its transaction lock so never while that transaction commits), and the highest offset
acknowledged per partition is recorded as Faust's `Table._on_changelog_sent` does it (under
exactly-once persisted once a commit made it visible: `dirty_store`, as Faust's own path
never does). Batches hand their records over in the order they were sent, so a key written
by two batches ends with the later value.

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

from base.kafka_batches import BatchSent, KeyValue, send_batches
from processors.faust_repairs import dirty_store
from processors.faust_repairs.store_writes import StoreWrite, write_partition

# (partition, key, value); a None value is a tombstone
ChangelogRecord = tuple[int, bytes, bytes | None]


class ChangelogSender:
    """Sends one table's changelog records, batch after batch."""

    def __init__(self, app: Any, table: Any) -> None:
        self._app = app
        self._table = table
        self._handed: asyncio.Future[None] | None = None  # the last batch's hand-over
        self._dirty = dirty_store.track(table)

    def write(self, records: Sequence[ChangelogRecord]) -> asyncio.Future[None]:
        """Write `records` to the table's store (each partition's keys in one RocksDB write
        batch, `store_writes`) and start sending them, in one step; the future is `send`'s."""
        by_partition: dict[int, list[StoreWrite]] = defaultdict(list)
        for partition, key, value in records:
            by_partition[partition].append((key, value))
        for partition, writes in by_partition.items():
            write_partition(self._table, partition, writes)
        return self.send(records)

    def send(self, records: Sequence[ChangelogRecord]) -> asyncio.Future[None]:
        """Start sending `records` (after every earlier batch's were handed over); the
        future resolves once Kafka acknowledged all of them. Call it in the same step as
        the batch's store writes."""
        partitions = {partition for partition, _, _ in records}
        writes = {partition: self._dirty.wrote(partition) for partition in partitions}
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sent = asyncio.ensure_future(self._send(records, writes, self._handed, handed))
        self._handed = handed
        return sent

    async def _send(
        self,
        records: Sequence[ChangelogRecord],
        writes: dict[int, int],
        earlier: asyncio.Future[None] | None,
        handed: asyncio.Future[None],
    ) -> None:
        try:
            if earlier is not None:
                await asyncio.shield(earlier)
            sent = await self._hand_over(records, writes)
        except asyncio.CancelledError:
            handed.cancel()
            raise
        except BaseException as error:
            handed.set_exception(error)
            handed.exception()  # retrieved: the next batch may be none (the worker restarts)
            raise
        handed.set_result(None)
        self._note_offsets(await asyncio.gather(*(batch.last_offset() for batch in sent)), writes)
        if not self._app.in_transaction:  # acknowledged is durable: nothing left to commit
            self._dirty.committed(writes)

    async def _hand_over(
        self, records: Sequence[ChangelogRecord], writes: dict[int, int]
    ) -> list[BatchSent]:
        topic = self._table.changelog_topic.get_topic_name()
        by_partition: dict[int, list[KeyValue]] = defaultdict(list)
        for partition, key, value in records:
            by_partition[partition].append((key, value))
        sent: list[BatchSent] = []
        for partition, pairs in sorted(by_partition.items()):
            sent += await self._append(topic, partition, pairs, writes[partition])
        return sent

    async def _append(
        self, topic: str, partition: int, pairs: list[KeyValue], write: int
    ) -> list[BatchSent]:
        producer, lock, transactional_id = self._producer_for(topic, partition)
        async with lock:
            sent = await send_batches(producer, topic, partition, pairs)
            if transactional_id is not None:  # in the transaction before it can commit
                self._dirty.handed(partition, write, transactional_id)
            return sent

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

    def _note_offsets(
        self, acknowledged: Sequence[tuple[str, int, int]], writes: dict[int, int]
    ) -> None:
        """The highest acknowledged offset per partition (`acknowledged`: each record
        batch's topic, partition and last record's offset): persisted in the store at once
        without transactions, as Faust records a changelog send; under exactly-once noted for
        the commit that makes it visible (dirty_store persists it then)."""
        highest: dict[TP, int] = {}
        for topic, partition, offset in acknowledged:
            tp = TP(topic, partition)
            highest[tp] = max(highest.get(tp, -1), offset)
        for tp, offset in highest.items():
            if self._app.in_transaction:
                self._dirty.acked(tp.partition, writes[tp.partition], offset)
            else:
                self._table.data.set_persisted_offset(tp, offset)
