"""Ask the broker for changelog highwaters under exactly-once, as Faust does otherwise.

With `processing_guarantee="exactly_once"` faust-streaming 0.15 answers `highwaters()` from
aiokafka's `last_stable_offset`, which is only known once a fetch response for the partition
has come in. A changelog partition just assigned has never been fetched, so recovery sees
None, logs a highwater of -1 and restores nothing: the new owner of a partition starts from
an empty (or stale local) table and replays only the events after the committed offsets.
Found by the two-worker rebalance test: after a graceful leave, the hot SKUs' stock (folded
and committed by the worker that left) was missing at the new owner.

A ListOffsets request answers with the last stable offset when the consumer reads
`read_committed` (as Faust's exactly-once consumer does), so `end_offsets` is the right
question in both modes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_INSTALLED = "_tally_asks_broker_for_highwaters"


async def _highwaters_from_broker(thread: Any, partitions: Sequence[Any]) -> Mapping[Any, int]:
    """partition -> offset of the next record (the last stable one under read_committed)."""
    consumer = thread._ensure_consumer()
    offsets: Mapping[Any, int] = await consumer.end_offsets(list(partitions))
    return offsets


def install() -> None:
    """Replace Faust's exactly-once highwater shortcut (idempotent)."""
    if getattr(AIOKafkaConsumerThread, _INSTALLED, False):
        return
    AIOKafkaConsumerThread._highwaters = _highwaters_from_broker  # type: ignore[method-assign,assignment]
    setattr(AIOKafkaConsumerThread, _INSTALLED, True)
