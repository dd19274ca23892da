"""Write a batch's outcome where it must be durable before anything is published: the
positions table (store and changelog, acknowledged by Kafka), then decisions and dead letters.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from base.dead_letters import dead_letter_key, dead_letter_record
from base.table_layout import state_writes
from ledger.codec import encode
from processors import metrics
from processors.batch import BatchOutcome
from processors.expiry import next_expiry_ms
from processors.faust_repairs import ChangelogRecord
from processors.parts import Worker
from processors.side_producer import Record

log = logging.getLogger("tally.worker")

# a batch's record of each partition (a faust event, or a record delivered in a batch)
EventsByPartition = dict[int, Any]


@dataclass
class WritesInFlight:
    """A batch's durable writes, sent: the changelog acks and the side records' sending."""

    changelog_sent: asyncio.Future[None]
    side_sent: asyncio.Future[None]

    async def changelog_acked(self) -> None:
        """Until Kafka acknowledged every changelog record (a failure cancels the side send).

        Faust's exactly-once commit does not flush its send buffer first: a changelog record
        still buffered would land in the partition's *next* transaction, which stays open
        (blocking read_committed readers) until more traffic comes, or aborts on timeout and
        loses the update. The batch's offsets are acknowledged only after this, so every
        record is in the transaction committed with its offsets, or an earlier one.
        """
        try:
            await self.changelog_sent
        except BaseException:
            self.side_sent.cancel()
            raise


def send_durably(worker: Worker, outcome: BatchOutcome) -> WritesInFlight:
    """Write the batch's table (store and changelog) and start sending its decisions and
    dead letters, which go on beside the acks and the Redis publish (they are not what
    makes the table durable). Nothing is awaited here."""
    changelog_sent = _write_table(worker, outcome)
    side_sent = asyncio.ensure_future(worker.side_producer.send_all(_side_records(worker, outcome)))
    return WritesInFlight(changelog_sent, side_sent)


def _side_records(worker: Worker, outcome: BatchOutcome) -> list[Record]:
    """The batch's decisions, supply notices to orders, and dead letters (logged, counted)."""
    topics = worker.settings.topics
    records: list[Record] = [
        (topics.decisions, decision.sku.encode(), encode(decision))
        for decision in outcome.decisions
    ]
    records += [(topics.orders, notice.ref.encode(), encode(notice)) for notice in outcome.notices]
    for letter in outcome.dead_letters:
        metrics.DEAD_LETTERS.labels(letter.message.topic_kind, letter.reason_kind).inc()
        log.warning("dead letter: %s (%s)", letter.reason, letter.message.topic)
        message = letter.message
        record = dead_letter_record(
            reason=letter.reason,
            reason_kind=letter.reason_kind,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            raw=message.value,
        )
        records.append((topics.dlq, dead_letter_key(message.key), record))
    return records


def _write_table(worker: Worker, outcome: BatchOutcome) -> asyncio.Future[None]:
    """Write each changed SKU once to its partition's store and changelog.

    Returns the changelog send, resolved once Kafka acknowledged every record. Each
    partition's store keys are written in one RocksDB write batch and the changelog records
    sent in one go (`worker.changelog.write`), which is what `table[key] = value` does
    record by record. Only what changed since the stored state is written
    (base.table_layout).
    """
    records: list[ChangelogRecord] = []
    for sku, state in outcome.states.items():
        partition = outcome.partitions[sku]
        # raw both ways; a None value is a tombstone (compaction drops the chunk)
        records += [
            (partition, key, value) for key, value in state_writes(state, outcome.stored.get(sku))
        ]
        worker.states.put(state.sku, state)
    for sku, state in (*outcome.states.items(), *outcome.unchanged.items()):
        worker.expiry.track(sku, next_expiry_ms(state))
    return worker.changelog.write(records)
