"""The newest dead letters (`tally.dlq`) with their reasons, and a re-drive of one of them.

A re-drive produces the refused record's bytes, with its key, again to the topic it was
refused from: useful once the cause is fixed (a limit raised, a producer repaired). Only
Tally's own input topics are re-driven to.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import TopicPartition

from base.settings import Settings
from connectors.inspect.kafka_read import kafka_consumer, partition_count, scan


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # where the dead letter itself is, on the dlq topic
    offset: int
    time: datetime
    reason: str
    reason_kind: str
    topic: str  # where the refused record came from
    key: str | None
    raw: str  # its first bytes as text
    raw_base64: str


class NotRedrivable(ValueError):
    """No such dead letter, or it names a topic that is not one of Tally's inputs."""


async def newest_dead_letters(settings: Settings, count: int) -> list[DeadLetter]:
    """At most `count` dead letters from each partition's end, newest first."""
    topic = settings.topics.dlq
    async with kafka_consumer(settings) as consumer:
        if topic not in await consumer.topics():
            return []
        partitions = await partition_count(consumer, topic, "dead-letter topic")
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        starts = {tp: max(0, ends[tp] - count) for tp in tps}
        found = [_dead_letter(r.partition, r.offset, r.timestamp, r.value) async for r in
                 scan(consumer, tps, start_offsets=starts)]  # fmt: skip
    letters = [letter for letter in found if letter is not None]
    letters.sort(key=lambda letter: letter.time, reverse=True)
    return letters[:count]


async def dead_letter_at(settings: Settings, partition: int, offset: int) -> DeadLetter:
    topic = settings.topics.dlq
    async with kafka_consumer(settings) as consumer:
        tp = TopicPartition(topic, partition)
        async for record in scan(consumer, [tp], start_offsets={tp: offset}):
            letter = _dead_letter(partition, record.offset, record.timestamp, record.value)
            if record.offset == offset and letter is not None:
                return letter
            break
    raise NotRedrivable(f"no readable dead letter at {topic}[{partition}]@{offset}")


def redrive_target(settings: Settings, letter: DeadLetter) -> tuple[str, bytes | None, bytes]:
    """(topic, key, value) to produce for a re-drive; NotRedrivable for a foreign topic."""
    topics = settings.topics
    inputs = {topics.events, topics.commands, topics.policy, topics.orders}
    if letter.topic not in inputs:
        raise NotRedrivable(f"{letter.topic!r} is not one of Tally's input topics")
    key = None if letter.key is None else letter.key.encode()
    return letter.topic, key, base64.b64decode(letter.raw_base64)


def _dead_letter(
    partition: int, offset: int, timestamp_ms: int, value: bytes | None
) -> DeadLetter | None:
    try:
        body = orjson.loads(value or b"")
        return DeadLetter(
            partition=partition,
            offset=offset,
            time=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
            reason=str(body["reason"]),
            reason_kind=str(body["reason_kind"]),
            topic=str(body["topic"]),
            key=None if body.get("key") is None else str(body["key"]),
            raw=str(body.get("raw", "")),
            raw_base64=str(body.get("raw_base64", "")),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
