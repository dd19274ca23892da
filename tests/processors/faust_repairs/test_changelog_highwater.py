"""Exactly-once recovery must learn a changelog partition's end from the broker
(processors.faust_repairs.changelog_highwater), on the real broker with a transaction left
open."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from base.settings import Settings
from processors.faust_repairs import changelog_highwater
from tests.support.isolation import unique

pytestmark = pytest.mark.integration

COMMITTED_RECORDS = 3
OPEN_RECORDS = 2


class _ThreadOver:
    """The part of Faust's consumer thread `_highwaters` uses: the aiokafka consumer."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    def _ensure_consumer(self) -> AIOKafkaConsumer:
        return self._consumer


async def _highwaters_with_a_transaction_left_open(settings: Settings) -> dict[str, Any]:
    topic = unique("highwater")
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, transactional_id=unique("tx")
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, isolation_level="read_committed"
    )
    await producer.start()
    await consumer.start()
    try:
        async with producer.transaction():
            for n in range(COMMITTED_RECORDS):
                await producer.send_and_wait(topic, f"committed-{n}".encode(), partition=0)
        await producer.begin_transaction()
        for n in range(OPEN_RECORDS):
            await producer.send_and_wait(topic, f"open-{n}".encode(), partition=0)
        consumer.assign([tp])  # assigned, never fetched: Faust's state at recovery start
        patched = await changelog_highwater._highwaters_from_broker(_ThreadOver(consumer), [tp])
        return {
            "faust_before": consumer.last_stable_offset(tp),
            "patched": patched[tp],
            "log_end": (await _log_end(settings, tp)),
        }
    finally:
        await consumer.stop()
        await producer.stop()


async def _log_end(settings: Settings, tp: TopicPartition) -> int:
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await reader.start()
    try:
        ends: dict[TopicPartition, int] = await reader.end_offsets([tp])
        return ends[tp]
    finally:
        await reader.stop()


def test_recovery_sees_the_last_stable_offset_of_a_partition_it_never_fetched(
    live_stack: Settings,
) -> None:
    found = asyncio.run(_highwaters_with_a_transaction_left_open(live_stack))
    # What Faust's exactly-once path asks: nothing known yet, so recovery restored nothing.
    assert found["faust_before"] is None
    # The committed records and their commit marker, not the open transaction's records.
    assert found["patched"] == COMMITTED_RECORDS + 1
    assert found["log_end"] == COMMITTED_RECORDS + 1 + OPEN_RECORDS


def test_install_replaces_fausts_highwaters_once() -> None:
    changelog_highwater.install()
    changelog_highwater.install()
    assert AIOKafkaConsumerThread._highwaters is changelog_highwater._highwaters_from_broker
