"""Process each partition's records in offset order, with no hole: ask again for any hole.

faust-streaming #596 family, reproduced here: on a rebalance or at the end of recovery,
Faust seeks a partition back to its committed offset, but its fetch loop can still deliver
stale records of the batch fetched before the seek; they advance Faust's read offset, and
the re-fetched records from the committed offset are then dropped as already read. The
agent would see a hole, and Faust would never commit past it. So a record that arrives past
the next expected offset is not processed (nor acknowledged): the partition is sought back
to the expected offset, and the records come again, in order. A record at or before the
expected offset is a redelivery; folds are idempotent, so it is processed again harmlessly.

A partition with no committed offset is expected from its log start, when the rewind repair
found it (`rewind.log_starts`): otherwise its first record delivered would be trusted, and a
record lost before it would never be decided (fault seed 6).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    log_starts: Mapping[Partition, int] = _NONE_KNOWN,
) -> Sequence[Any]:
    """The batch's records (faust EventT) that continue each partition without a hole; a
    partition with a hole is sought back, and its later records are neither processed nor
    acknowledged (they will come again)."""
    keep, seek = in_order.split(batch, committed_of, log_starts)
    if not seek:
        return batch
    kept = {id(event) for event in keep}
    for event in batch:
        if id(event) not in kept:
            event.message.acked = True  # Faust must not count it as done: it comes again
    assigned = consumer.assignment()
    for (topic, partition), offset in seek.items():
        tp = TP(topic, partition)
        if tp not in assigned:
            continue  # revoked meanwhile: its next owner starts from the committed offset
        log.warning("hole in %s[%d] before offset %d: seeking back", topic, partition, offset)
        metrics.DELIVERY_REPAIRS.labels("hole_seek").inc()
        await consumer.seek(tp, offset)
    return keep
