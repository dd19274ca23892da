"""The Kafka producer that puts facts on `tally.events`: acks=all, idempotent, keyed by SKU
(aiokafka's default partitioner is Kafka's murmur2, so a SKU lands on the partition
base.topics.partition_for names). Shared by `tally import` and `tally edi receive`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from base.kafka_client import client_options, start_or_close
from base.settings import Settings
from base.topics import cached_partitioner, ensure_topics
from ledger.codec import encode
from ledger.events import Fact

PRODUCER_BATCH_BYTES = 512 * 1024


def fact_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings.kafka),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=PRODUCER_BATCH_BYTES,
        partitioner=cached_partitioner,
    )


async def produce_facts(settings: Settings, facts: Sequence[Fact]) -> None:
    """Send every fact keyed by its SKU and return once Kafka acknowledged them all."""
    await ensure_topics(settings)
    producer = fact_producer(settings)
    await start_or_close(producer)
    try:
        topic = settings.topics.events
        sent = [await producer.send(topic, encode(f), key=f.sku.encode()) for f in facts]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
