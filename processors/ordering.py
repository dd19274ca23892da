"""Process each partition's records in offset order, with no hole: ask again for any hole.

faust-streaming #596 family, reproduced here: on a rebalance or at the end of recovery,
Faust seeks a partition back to its committed offset, but its fetch loop can still deliver
stale records of the batch fetched before the seek; they advance Faust's read offset, and
the re-fetched records from the committed offset are then dropped as already read. The
agent would see a hole, and Faust would never commit past it. So a record that arrives past
the next expected offset is not processed (nor acknowledged): the partition is sought back
to the expected offset, and the records come again, in order. A record at or before the
expected offset is a redelivery; folds are idempotent, so it is processed again harmlessly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Partition = tuple[str, int]


class InOrder:
    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}

    def reset(self) -> None:
        """After a rebalance: expectations start again from the committed offsets."""
        self._next.clear()

    def split(
        self, events: Sequence[Any], committed_of: Callable[[Partition], int | None]
    ) -> tuple[list[Any], dict[Partition, int]]:
        """(events to process, partition -> offset to seek back to) for one batch."""
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
            if expected is not None and message.offset > expected:
                seek[key] = expected
                continue
            keep.append(event)
            self._next[key] = max(expected or 0, message.offset + 1)
        return keep, seek
