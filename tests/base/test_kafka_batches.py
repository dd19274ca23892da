"""base.kafka_batches against a real broker: records handed over as record batches arrive
in order, each batch's ack names its first record, and the count gives its last."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from base.kafka_batches import send_batches
from base.kafka_client import client_options
from base.settings import Settings

RECORDS = 300
VALUE_BYTES = 200


def test_records_beyond_one_batch_arrive_in_order_with_their_offsets(isolated: Settings) -> None:
    topic, partition = isolated.topics.dlq, 0  # a topic of the test's own, otherwise unused

    async def scenario() -> tuple[list[int], list[tuple[str, int, int]], list[Any]]:
        # 16 KiB batches: the 300 records of ~210 bytes need four or more
        producer = AIOKafkaProducer(
            **client_options(isolated.kafka), acks="all", enable_idempotence=True,
            max_batch_size=16 * 1024,
        )  # fmt: skip
        await producer.start()
        try:
            records = [(f"k{i}".encode(), f"{i:0{VALUE_BYTES}d}".encode()) for i in range(RECORDS)]
            sent = await send_batches(producer, topic, partition, records)
            lasts = list(await asyncio.gather(*(batch.last_offset() for batch in sent)))
            sizes = [batch.records for batch in sent]
        finally:
            await producer.stop()
        return sizes, lasts, await _read(isolated, TopicPartition(topic, partition))

    sizes, lasts, read = asyncio.run(scenario())
    assert sum(sizes) == RECORDS and len(sizes) >= 4, sizes
    assert [int(value) for _, _, value in read] == list(range(RECORDS))  # all, in order
    assert [key for _, key, _ in read] == [f"k{i}".encode() for i in range(RECORDS)]
    offsets = [offset for offset, _, _ in read]
    assert offsets == list(range(offsets[0], offsets[0] + RECORDS))
    # each batch's last offset: the offset of its last record as read back
    ends = list(itertools.accumulate(sizes))
    assert lasts == [(topic, partition, offsets[end - 1]) for end in ends]


async def _read(settings: Settings, tp: TopicPartition) -> list[tuple[int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(**client_options(settings.kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        read: list[tuple[int, bytes, bytes]] = []
        while len(read) < RECORDS:
            batch = await consumer.getmany(tp, timeout_ms=5_000)
            if not batch:
                break
            read += [(m.offset, m.key, m.value) for m in batch.get(tp, [])]
        return read
    finally:
        await consumer.stop()
