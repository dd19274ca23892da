"""Process each partition's records in offset order, with no hole: ask again for any hole.

faust-streaming #596 family, reproduced here: on a rebalance or at the end of recovery,
Faust seeks a partition back to its committed offset, but its fetch loop can still deliver
stale records of the batch fetched before the seek; they advance Faust's read offset, and
the re-fetched records from the committed offset are then dropped as already read. The
agent would see a hole, and Faust would never commit past it. So a record that arrives past
the next expected offset is not processed (nor acknowledged): the partition is sought back
to the expected offset, and the records come again, in order. A record at or before the
expected offset is a redelivery; folds are idempotent, so it is processed again harmlessly.

A partition with no committed offset is expected from its log start: the one the rewind repair
found (`rewind.log_starts`), else asked of the broker before the partition's first batch.
Trusting its first record delivered instead, a record lost before it would never be decided
(fault seed 6).

Records can be deleted before the worker read them (retention, an operator's
`kafka-delete-records`): a fetch from the expected offset is then out of range, aiokafka
resets the partition to its log start, and the first record delivered is past the hole
again. So before seeking back, the log start is asked for: records before it are gone, and
the partition goes on from there (logged as an error, counted as `deleted_skipped`) rather
than seeking back for them forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka.errors import IllegalStateError, KafkaError
from faust.types import TP

from processors import metrics

log = logging.getLogger("tally.worker")

Partition = tuple[str, int]
_NONE_KNOWN: Mapping[Partition, int] = {}


class InOrder:
    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}

    def reset(self) -> None:
        """After a rebalance: expectations start again from the committed offsets."""
        self._next.clear()

    def expect(self, partition: Partition, offset: int) -> None:
        """The partition's next record is at `offset` (its earlier records are gone)."""
        self._next[partition] = offset

    def unknown(
        self,
        events: Sequence[Any],
        committed_of: Callable[[Partition], int | None],
        log_starts: Mapping[Partition, int] = _NONE_KNOWN,
    ) -> set[Partition]:
        """Partitions of `events` with nothing to expect their first record from: none
        processed in this assignment, no committed offset, no log start known."""
        keys = {(event.message.topic, event.message.partition) for event in events}
        return {
            key
            for key in keys
            if key not in self._next and committed_of(key) is None and key not in log_starts
        }

    def split(
        self,
        events: Sequence[Any],
        committed_of: Callable[[Partition], int | None],
        log_starts: Mapping[Partition, int] = _NONE_KNOWN,
    ) -> tuple[list[Any], dict[Partition, int]]:
        """(events to process, partition -> offset to seek back to) for one batch;
        `log_starts`: where never-committed partitions begin, where known."""
        keep: list[Any] = []
        seek: dict[Partition, int] = {}
        for event in events:
            message = event.message
            key: Partition = (message.topic, message.partition)
            if key in seek:
                continue
            expected = self._next.get(key)
            if expected is None:
                expected = committed_of(key)
            if expected is None:
                expected = log_starts.get(key)
            if expected is not None and message.offset > expected:
                seek[key] = expected
                continue
            keep.append(event)
            self._next[key] = max(expected or 0, message.offset + 1)
        return keep, seek


async def in_partition_order(
    consumer: Any,
    in_order: InOrder,
    batch: Sequence[Any],
    committed_of: Callable[[Partition], int | None],
    log_starts: dict[Any, int],
) -> Sequence[Any]:
    """The batch's records (faust EventT) that continue each partition without a hole; a
    partition with a hole is sought back, and its later records are neither processed nor
    acknowledged (they will come again). `log_starts` (the rewind's, keyed by faust's `TP`)
    gains the log starts asked for here."""
    unknown = in_order.unknown(batch, committed_of, log_starts)
    asked = await _log_starts(consumer, unknown) if unknown else {}
    log_starts.update(asked)
    keep, seek = in_order.split(batch, committed_of, log_starts)
    if not seek:
        return batch
    kept = {id(event) for event in keep}
    for event in batch:
        if id(event) not in kept:
            event.message.acked = True  # Faust must not count it as done: it comes again
    skipped = await _skip_deleted(consumer, in_order, seek, asked)
    assigned = consumer.assignment()
    for (topic, partition), offset in seek.items():
        tp = TP(topic, partition)
        if tp not in assigned:
            continue  # revoked meanwhile: its next owner starts from the committed offset
        if (topic, partition) not in skipped:
            log.warning("hole in %s[%d] before offset %d: seeking back", topic, partition, offset)
            metrics.DELIVERY_REPAIRS.labels("hole_seek").inc()
        await consumer.seek(tp, offset)
    return keep


async def _skip_deleted(
    consumer: Any, in_order: InOrder, seek: dict[Partition, int], asked: Mapping[Any, int]
) -> set[Partition]:
    """Where a hole starts before its partition's log start, the records are gone: expect the
    partition from its log start, and seek there instead (`asked`: the log starts just asked
    for). The partitions skipped ahead."""
    starts = {**asked, **await _log_starts(consumer, {key for key in seek if key not in asked})}
    skipped: set[Partition] = set()
    for key, offset in seek.items():
        start = starts.get(TP(*key))
        if start is None or start <= offset:
            continue
        topic, partition = key
        log.error(
            "records %d..%d of %s[%d] were deleted before they were read: going on from %d",
            offset, start - 1, topic, partition, start,
        )  # fmt: skip
        metrics.DELIVERY_REPAIRS.labels("deleted_skipped").inc()
        in_order.expect(key, start)
        seek[key] = start
        skipped.add(key)
    return skipped


async def _log_starts(consumer: Any, partitions: set[Partition]) -> dict[Any, int]:
    """The first offsets of the assigned `partitions` (keyed by `TP`); none if the broker
    cannot say now (the partitions are then judged as before: a rebalance is under way)."""
    assigned = consumer.assignment() if partitions else ()
    tps = [TP(*key) for key in sorted(partitions) if TP(*key) in assigned]
    if not tps:
        return {}
    try:
        starts: dict[Any, int] = dict(await consumer.earliest_offsets(*tps))
    except (IllegalStateError, KafkaError, AssertionError) as error:
        log.warning("could not ask for the log starts of %s: %r", tps, error)
        return {}
    return starts
