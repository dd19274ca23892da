"""A plain (non-transactional) Kafka producer for decisions, dead letters and expire asks.

Faust's exactly-once producers put a record into the transaction of its target partition,
which commits only when that partition's source offsets do. An `expire` ask sent from a
timer could then wait for unrelated traffic before becoming visible (read_committed), and
a decision would be held back a commit interval. These records are safe outside the
transaction: a replay re-decides the same command against the same state (same decision),
an `expire` ask is idempotent, and a repeated dead letter only repeats a report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from base.kafka_batches import KeyValue, send_batches
from base.kafka_client import client_options, start_or_close
from base.settings import Settings
from base.topics import cached_partitioner
from processors.faust_repairs import is_spurious

Record = tuple[str, bytes | None, bytes]  # topic, key, value
# The record batch size: a worker batch sends about a tenth of its records here (decisions),
# each a few hundred bytes; one record batch per partition keeps it one hand-over.
SIDE_BATCH_BYTES = 512 * 1024
SEND_ATTEMPTS_MAX = 5
RETRY_BACKOFF_S = 0.05
log = logging.getLogger("tally.side_producer")


class SideProducer:
    def __init__(self, settings: Settings) -> None:
        self._kafka = settings.kafka
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **client_options(self._kafka),
                    acks="all",
                    enable_idempotence=True,
                    # no wait: a batch's decisions are handed over in one go, as record batches
                    linger_ms=0,
                    # a worker batch's records for one partition in one record batch
                    max_batch_size=SIDE_BATCH_BYTES,
                )
                await start_or_close(producer)
                self._producer = producer
        return self._producer

    async def send_all(self, records: Sequence[Record]) -> None:
        """Send every record and wait until Kafka acknowledged them all.

        Transient failures are retried (a repeat is harmless, see above); after
        SEND_ATTEMPTS_MAX the error propagates and the batch is replayed by a restart.
        """
        if not records:
            return
        for attempt in range(1, SEND_ATTEMPTS_MAX + 1):
            try:
                producer = await self._started()
                sent = [
                    batch
                    for (topic, partition), pairs in (await _by_partition(producer, records))
                    for batch in await send_batches(producer, topic, partition, pairs)
                ]
                await asyncio.gather(*(batch.ack for batch in sent))
                return
            except (KafkaError, asyncio.CancelledError) as error:
                if not is_spurious(error) or attempt == SEND_ATTEMPTS_MAX:
                    raise
                log.warning("side send failed (attempt %d), retrying: %r", attempt, error)
                await asyncio.sleep(RETRY_BACKOFF_S * 2**attempt)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _by_partition(
    producer: AIOKafkaProducer, records: Sequence[Record]
) -> list[tuple[tuple[str, int], list[KeyValue]]]:
    """`records` grouped by topic and partition, in their order within each: a keyed record
    where Kafka's default partitioner puts it (decisions by SKU), an unkeyed one anywhere."""
    grouped: dict[tuple[str, int], list[KeyValue]] = {}
    partitions: dict[str, list[int]] = {}
    for topic, key, value in records:
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = cached_partitioner(key, partitions[topic], partitions[topic])
        grouped.setdefault((topic, partition), []).append((key, value))
    return list(grouped.items())
