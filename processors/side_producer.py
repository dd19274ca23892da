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

from base.kafka_client import client_options, start_or_close
from base.settings import Settings
from base.topics import cached_partitioner
from processors.faust_repairs import is_spurious

Record = tuple[str, bytes | None, bytes]  # topic, key, value
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
                    # no wait: a batch's decisions are queued in one go and batched anyway
                    linger_ms=0,
                    partitioner=cached_partitioner,  # decisions are keyed by SKU
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
                pending = [await producer.send(t, value, key=key) for t, key, value in records]
                await asyncio.gather(*pending)
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
