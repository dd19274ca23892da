"""Rebuild Redis from the tables: `tally resync`.

Reads the positions table's changelog (every partition, latest record per SKU, committed
only) and the whole policy topic, computes every figure of every SKU with
`ledger.availability.figures`, and publishes them through the worker's own compare-and-set
publisher. Safe while workers run: a figure Redis already holds at the same or a newer
version is skipped, so resync can only fill gaps (e.g. after Redis lost its data), never
roll a figure back.

Each partition is read to its high watermark taken when resync starts, not to its committed
end: a worker publishes a batch's figures once its changelog records are acknowledged, before
its transaction commits. Had Redis lost such a figure, a read stopping at the committed end
would write the older committed one, and the worker, having published already, would never
write it again. So resync waits for the transactions open when it starts to end (a killed
worker's for up to Kafka's transaction timeout, 60 s) and reports a partition it gave up on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiokafka import TopicPartition
from redis.exceptions import RedisError

from base.settings import Settings
from base.topics import changelog_topic
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import (
    kafka_consumer,
    log_ends,
    partition_count,
    read_all_states,
    read_policy,
)
from connectors.inspect.published import redis_detail
from ledger.availability import figures
from processors.batch import figures_from
from processors.publisher import Figure, RedisPublisher, policy_low_stock

Progress = Callable[[str], None]
PUBLISH_CHUNK_FIGURES = 2_000
# Kafka aborts a transaction its producer left open after transaction.timeout.ms (60 s, the
# producers' default); a little more lets a killed worker's transaction end first.
OPEN_TRANSACTION_WAIT_S = 75.0
OPEN_TRANSACTION_WAIT_S_MAX = 600.0


@dataclass(frozen=True)
class ResyncReport:
    changelog: str
    partitions: int
    skus: int
    unreadable: int  # changelog records that did not decode (skipped)
    figures: int
    written: int
    current: int  # already in Redis at the same or a newer version
    policy_version: int
    seconds: float
    # partitions whose transactions open at the start had not ended within the wait: their
    # figures are the committed ones (run resync again)
    unsettled: list[int]


def _silent(message: str) -> None:
    del message


async def resync(
    settings: Settings,
    progress: Progress = _silent,
    open_transaction_wait_s: float = OPEN_TRANSACTION_WAIT_S,
) -> ResyncReport:
    """Publish every SKU's figures from the committed table state; CAS keeps newer ones."""
    if not 0 < open_transaction_wait_s <= OPEN_TRANSACTION_WAIT_S_MAX:
        raise ValueError(
            f"open_transaction_wait_s must be in (0, {OPEN_TRANSACTION_WAIT_S_MAX:g}], "
            f"got {open_transaction_wait_s:g}"
        )
    started = time.monotonic()
    topic = changelog_topic(settings)
    client = aioredis.Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s,
        socket_connect_timeout=settings.redis.socket_timeout_s,
    )
    try:
        await _ping(client, settings)
        async with kafka_consumer(settings) as consumer:
            book, policy_version = await read_policy(consumer, settings)
            publisher = RedisPublisher(
                client,
                changes_len_max=settings.worker.changes_stream_len_max,
                low_stock_units=policy_low_stock(lambda: book),
            )
            progress(
                f"policy: {len(book.channels)} channels, {len(book.locations)} locations, "
                f"version {policy_version}"
            )
            partitions = await partition_count(consumer, topic, "positions changelog")
            tps = [TopicPartition(topic, partition) for partition in range(partitions)]
            ends = await log_ends(settings, tps)
            totals = {"skus": 0, "unreadable": 0, "figures": 0, "written": 0}
            unsettled: list[int] = []
            for tp in tps:
                partition = tp.partition
                states, unreadable = await read_all_states(
                    consumer,
                    settings,
                    partition,
                    end=ends[tp],
                    idle_s_max=open_transaction_wait_s,
                )
                if await consumer.position(tp) < ends[tp]:
                    unsettled.append(partition)
                    progress(
                        f"{topic}[{partition}]: a transaction open at the start had not ended "
                        f"after {open_transaction_wait_s:g}s; the figures it changed are "
                        "written as committed before it"
                    )
                batch: list[Figure] = []
                for state in states.values():
                    batch += figures_from(state, figures(state, book), policy_version, 0)
                written = await _publish(publisher, batch)
                totals["skus"] += len(states)
                totals["unreadable"] += unreadable
                totals["figures"] += len(batch)
                totals["written"] += written
                progress(
                    f"{topic}[{partition}]: {len(states)} SKUs, {len(batch)} figures, "
                    f"{written} written, {len(batch) - written} already current"
                )
    finally:
        await client.aclose()
    return ResyncReport(
        changelog=topic,
        partitions=partitions,
        skus=totals["skus"],
        unreadable=totals["unreadable"],
        figures=totals["figures"],
        written=totals["written"],
        current=totals["figures"] - totals["written"],
        policy_version=policy_version,
        seconds=round(time.monotonic() - started, 3),
        unsettled=unsettled,
    )


async def _publish(publisher: RedisPublisher, batch: list[Figure]) -> int:
    written = 0
    for start in range(0, len(batch), PUBLISH_CHUNK_FIGURES):
        flags = await publisher.publish(batch[start : start + PUBLISH_CHUNK_FIGURES])
        written += sum(flags)
    return written


async def _ping(client: aioredis.Redis, settings: Settings) -> None:
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        address = f"{settings.redis.host}:{settings.redis.port}"
        raise ServiceDown("Redis", address, redis_detail(error)) from None
