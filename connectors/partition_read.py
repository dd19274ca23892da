"""Read Kafka partitions between given offsets: the bounded scan under `tally history`,
`tally stock` (ops/inspect/kafka_read.py) and the as-of rebuild (connectors/as_of.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

POLL_TIMEOUT_MS = 500
# A read stops when no record arrived for this long although the end was not reached
# (e.g. a transaction left open by a killed producer holds the read_committed end back).
IDLE_S_MAX = 5.0


async def read_partitions(
    consumer: AIOKafkaConsumer,
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
    *,
    idle_s_max: float = IDLE_S_MAX,
) -> AsyncIterator[ConsumerRecord]:
    """Every committed record of each partition from its start to before its end offset;
    one partition's records in offset order. The partitions must be assigned.

    Gives up after `idle_s_max` without a record; the caller sees it as a position short of
    the end."""
    # Explicit offsets: seek_to_beginning() is lazy and can lose a race with the fetcher's
    # first position lookup on a freshly assigned partition.
    for tp, start in starts.items():
        consumer.seek(tp, start)
    open_tps = {tp for tp, start in starts.items() if ends[tp] > start}
    idle_since = time.monotonic()
    while open_tps:
        for tp in list(open_tps):
            if await consumer.position(tp) >= ends[tp]:
                open_tps.discard(tp)
        if not open_tps:
            return
        batches = await consumer.getmany(*open_tps, timeout_ms=POLL_TIMEOUT_MS)
        if not any(batches.values()):
            if time.monotonic() - idle_since > idle_s_max:
                return
            continue
        idle_since = time.monotonic()
        for tp, records in batches.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record
