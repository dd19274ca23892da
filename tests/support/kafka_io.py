"""Produce and read wire-contract records in tests (plain aiokafka, real broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from base.kafka_client import client_options
from base.settings import Settings

READ_IDLE_MS = 1_000


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def fact(
    event_id: str, kind: str, sku: str, location: str, qty: int, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "sku": sku,
        "location": location,
        "qty": qty,
        "occurred_at": now_iso(),
        "source": "test",
        **extra,
    }


def channel_policy(
    channel: str, locations: Iterable[str], version: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "kind": "channel",
        "channel": channel,
        "locations": list(locations),
        "version": version,
        "updated_at": now_iso(),
        **extra,
    }


async def produce(
    settings: Settings, topic: str, records: Iterable[tuple[bytes | None, bytes]]
) -> None:
    """Send raw (key, value) records and wait until Kafka acknowledged every one."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_json(
    settings: Settings, topic: str, bodies: Iterable[Mapping[str, Any]], key_field: str = "sku"
) -> None:
    await produce(settings, topic, [(str(b[key_field]).encode(), orjson.dumps(b)) for b in bodies])


async def read_all(settings: Settings, topic: str, *, idle_ms: int = READ_IDLE_MS) -> list[Any]:
    """Every committed record on `topic` (JSON-decoded), read until it stays idle."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    records: list[Any] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                return records
            for messages in batch.values():
                records += [orjson.loads(m.value) for m in messages if m.value is not None]
    finally:
        await consumer.stop()


async def worker_group_offsets(settings: Settings) -> dict[TopicPartition, int]:
    """The worker group's committed offsets (Faust's group is its app id); a partition the
    group never committed is left out."""
    admin = AIOKafkaAdminClient(**client_options(settings.kafka))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.worker.app_id)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
