"""What this worker processed of each source partition since its last assignment.

The repairs judge Faust's delivery by it: the commit watch compares it with Faust's committed
offsets, a skipped offset marks a hole, and the starvation watch expects the next offset.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Partition = tuple[str, int]


@dataclass
class ProcessedOffsets:
    last: dict[Partition, int] = field(default_factory=dict)  # the last offset processed
    first: dict[Partition, int] = field(default_factory=dict)  # the first, since assignment
    holes: set[Partition] = field(default_factory=set)  # a skipped offset was seen
    noted_at: float | None = None  # time.monotonic() of the last batch with records

    def note(self, events: Sequence[Any]) -> None:
        """Record a batch's events (faust EventT), about to be processed in this order."""
        if events:
            self.noted_at = time.monotonic()
        for event in events:
            message = event.message
            key = (message.topic, message.partition)
            last = self.last.get(key)
            if last is not None and message.offset > last + 1:
                self.holes.add(key)  # records between were never delivered to this agent
            self.first.setdefault(key, message.offset)
            self.last[key] = max(message.offset, last if last is not None else -1)

    def clear(self) -> None:
        """After a rebalance: partitions start over from their committed offsets."""
        self.last.clear()
        self.first.clear()
        self.holes.clear()
        self.noted_at = None
