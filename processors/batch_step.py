"""One batch through the worker: kept in partition order, folded, written durably, published.

In two steps, so the pipeline (`processors.pipeline`) can fold the next batch while this
one's round trips are under way: `start_batch` folds (`processors.batch`, free of Faust)
and sends the table and side writes (`processors.durable_writes`); `finish_batch` waits for
their acks, only then publishes the changed figures to Redis, and acknowledges the records.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

from base.table_layout import read_state
from ledger.state import SkuState
from processors import metrics
from processors.batch import BatchOutcome, RawMessage, TopicKind, process_batch
from processors.durable_writes import EventsByPartition, WritesInFlight, send_durably
from processors.parts import Worker


@dataclass
class BatchInFlight:
    """A folded batch whose writes are sent: what finishing it needs."""

    records: Sequence[Any]  # in partition order: acknowledged once the batch is finished
    outcome: BatchOutcome
    writes: WritesInFlight
    sent_at: float = field(default_factory=time.monotonic)  # when the writes were sent


async def start_batch(worker: Worker, batch: Sequence[Any]) -> BatchInFlight | None:
    """Fold one batch and send its durable writes (None: nothing in it to process).

    `batch` holds faust events, or records delivered in a batch (both carry `.message`).
    """
    began = time.monotonic()
    batch = await worker.repairs.in_partition_order(batch)
    if not batch:
        return None
    messages = [_raw_message(event.message, worker.kinds) for event in batch]
    worker.repairs.note_processed(batch)
    metrics.BATCH_SIZE.observe(len(messages))
    events_by_partition = {event.message.partition: event for event in batch}
    outcome = process_batch(
        messages,
        lambda sku, partition: _load_state(worker, events_by_partition, sku, partition),
        worker.policy.book,
        worker.policy.version,
        _replay_test(worker, messages),
        partitions=worker.settings.topics.partitions,
        horizon_days=worker.settings.worker.atp_horizon_days,
    )
    await worker.durable.admit_writes()
    flight = BatchInFlight(batch, outcome, send_durably(worker, outcome))
    metrics.BATCH_PHASES["fold"].observe(flight.sent_at - began)
    return flight


async def finish_batch(
    worker: Worker, flight: BatchInFlight, previous: Awaitable[None] | None = None
) -> None:
    """Once its writes are durable (and the `previous` batch finished): publish the batch's
    changed figures, count it, and acknowledge its records, in batch order."""
    await flight.writes.changelog_acked()
    await worker.durable.writes_durable()
    durable_at = time.monotonic()
    metrics.BATCH_PHASES["durable"].observe(durable_at - flight.sent_at)
    if previous is not None:
        await previous
    in_order_at = time.monotonic()
    metrics.BATCH_PHASES["in_order"].observe(in_order_at - durable_at)
    outcome = flight.outcome
    # Only now to Redis: a figure is published only once the state it comes from is durable.
    # Published before (fault seed 42), a crash between the two left Redis *ahead* of the
    # changelog; the replay folded from the older stored state, found the final figure equal
    # to that state's, and published nothing, so the crashed run's number stayed for good.
    await worker.pending.publish(worker.publisher, outcome.figures)
    metrics.BATCH_PHASES["publish"].observe(time.monotonic() - in_order_at)
    await flight.writes.side_sent  # a failed send fails the batch, before its offsets commit
    worker.repairs.acknowledge(flight.records)
    _count(outcome)
    book = worker.policy.book
    worker.kpis.count(outcome.kpis, book)
    worker.kpis.observe(outcome.states.values(), book)
    await worker.kpis.flush(worker.redis)


def _load_state(
    worker: Worker, events_by_partition: EventsByPartition, sku: str, partition: int
) -> SkuState:
    cached = worker.states.get(sku)
    if cached is not None:
        return cached
    worker.repairs.enter_partition(events_by_partition[partition])
    state = read_state(worker.positions.get, sku)
    return SkuState.empty(sku) if state is None else state


def _replay_test(worker: Worker, messages: Sequence[RawMessage]) -> Callable[[RawMessage], bool]:
    """Whether a message lies before its partition's log end as first seen since assignment
    (processors.batch: a replay publishes all figures of the SKUs it changes).

    The log end comes from the last fetch (no broker call); unknown, it counts as a replay.
    """
    consumer: Any = worker.app.consumer
    ends = worker.replay_ends
    for message in messages:
        key = (message.topic, message.partition)
        if key not in ends and (end := consumer.highwater(TP(*key))) is not None:
            ends[key] = end

    def replayed(message: RawMessage) -> bool:
        end = ends.get((message.topic, message.partition))
        return end is None or message.offset < end

    return replayed


def _raw_message(message: Any, kinds: dict[str, TopicKind]) -> RawMessage:
    """A faust `Message` as the fold sees it."""
    return RawMessage(
        topic_kind=kinds[message.topic],
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=int(message.timestamp * 1000),
    )


def _count(outcome: BatchOutcome) -> None:
    for (event_type, result), count in outcome.events_folded.items():
        metrics.EVENTS_FOLDED.labels(event_type, result).inc(count)
    for (command, result), count in outcome.hold_decisions.items():
        metrics.HOLD_DECISIONS.labels(command, result).inc(count)
    if outcome.holds_expired:
        metrics.HOLDS_EXPIRED.inc(outcome.holds_expired)
    for units in outcome.oversells:
        metrics.OVERSELLS.inc()
        metrics.OVERSOLD_UNITS.inc(units)
    if outcome.variance_units:
        metrics.CYCLE_COUNT_VARIANCE_UNITS.inc(outcome.variance_units)
