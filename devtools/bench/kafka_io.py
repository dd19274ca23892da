"""Producing the bench's load: a preload as fast as Kafka takes it, and a paced producer.

The paced producer offers `rate` records/s (asyncio, bounded by the producer's buffer) and
stamps each record just before handing it to the client, as the gateway stamps
`ingested_at` before producing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from base.settings import Settings
from devtools.bench.gen import Item, stamp

PRELOAD_INFLIGHT_MAX = 20_000  # records sent but not yet acknowledged during a preload
PACE_TICK_S = 0.002


def producer(settings: Settings, *, linger_ms: int, batch_bytes: int = 262_144) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=batch_bytes,
    )


async def preload(
    settings: Settings,
    records: Iterable[tuple[str, bytes, bytes]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send (topic, key, value) records as fast as the broker acknowledges them."""
    client = producer(settings, linger_ms=5, batch_bytes=1_048_576)
    await client.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for topic, key, value in records:
            pending.append(await client.send(topic, value, key=key))
            sent += 1
            if len(pending) >= PRELOAD_INFLIGHT_MAX:
                await asyncio.gather(*pending)
                pending = []
                if progress is not None:
                    progress(sent)
        await asyncio.gather(*pending)
    finally:
        await client.stop()
    return sent


@dataclass
class PacedResult:
    offered_rate: float
    sent: int
    duration_s: float

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.duration_s if self.duration_s > 0 else 0.0


async def paced(
    client: AIOKafkaProducer,
    topics: dict[str, str],
    items: Sequence[Item],
    rate: float,
    duration_s: float,
) -> PacedResult:
    """Offer `rate` records/s for `duration_s` (or until `items` run out), stamped at send."""
    pending: list[asyncio.Future[object]] = []
    started = time.monotonic()
    sent = 0
    total = min(len(items), int(rate * duration_s))
    while sent < total:
        due = min(total, int(rate * (time.monotonic() - started)) + 1)
        while sent < due:
            item = items[sent]
            pending.append(await client.send(topics[item.kind], stamp(item), key=item.key))
            sent += 1
        await asyncio.sleep(PACE_TICK_S)
    duration = time.monotonic() - started
    await asyncio.gather(*pending)
    return PacedResult(rate, sent, duration)


async def assign_all(
    consumer: AIOKafkaConsumer, topics: Sequence[str], partitions: int, *, at: str
) -> list[TopicPartition]:
    """Assign partitions 0..`partitions`-1 of `topics` (the bench created them, so it knows
    their count) and seek to their beginning or end, explicitly."""
    assigned = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
    consumer.assign(assigned)
    offsets = await (
        consumer.beginning_offsets(assigned)
        if at == "beginning"
        else consumer.end_offsets(assigned)
    )
    for tp in assigned:
        consumer.seek(tp, offsets[tp])
    for tp in assigned:  # resolve the positions now, before anything is produced
        await consumer.position(tp)
    return assigned
