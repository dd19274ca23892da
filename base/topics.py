"""The wire-contract topics: their names (the positions changelog's too), their shapes, the
partition of a key, and creating them before anything uses them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from base.kafka_client import client_options
from base.settings import Settings

log = logging.getLogger("tally.topics")

POSITIONS_TABLE = "positions"  # the worker's Faust table of SKU states


def changelog_topic(settings: Settings) -> str:
    """Faust's changelog topic of the worker's positions table."""
    return f"{settings.worker.app_id}-{POSITIONS_TABLE}-changelog"


# murmur2 in Python costs ~3.4 us a key; the worker asks once per SKU per batch, and its
# producers once per record keyed by a SKU, mostly for the same popular SKUs. A cached
# answer costs ~0.1-0.2 us (~200 bytes an entry, 13 MB when full).
PARTITION_CACHE_KEYS_MAX = 65_536


@functools.lru_cache(maxsize=PARTITION_CACHE_KEYS_MAX)
def _key_hash(key: bytes) -> int:
    """Kafka's partitioning hash of `key`: murmur2, made positive as the Java client does."""
    positive: int = murmur2(key) & 0x7FFFFFFF
    return positive


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives `key`: every SKU-keyed
    producer and the positions changelog put a SKU there."""
    return _key_hash(key.encode()) % partitions


def cached_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's `DefaultPartitioner` (a producer's `partitioner=`), with the hash cached:
    a keyed record goes where the Java client puts it."""
    if key is None:
        anywhere: int = DEFAULT_PARTITIONER(key, all_partitions, available)
        return anywhere
    return all_partitions[_key_hash(key) % len(all_partitions)]


DEFAULT_PARTITIONER = DefaultPartitioner()


# The logs the state is folded from (facts, hold commands, policy, orders, capacity asks):
# never deleted by age, so a rebuild from the log is exact. The policy log is compacted
# instead (the newest record per channel and location is kept for good).
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def changelog_configs(settings: Settings) -> dict[str, str]:
    """A Faust table's changelog (compacted by Faust): how many copies must hold a write."""
    return {"min.insync.replicas": str(settings.topics.replication(settings.kafka.brokers)[1])}


def wanted_topics(settings: Settings) -> list[NewTopic]:
    """Every wire topic with its partitions, copies and configs (docs/WIRE.md)."""
    topics = settings.topics
    factor, insync = topics.replication(settings.kafka.brokers)
    copies = {"min.insync.replicas": str(insync)}
    source = {"cleanup.policy": "delete", **FOREVER, **copies}
    derived = {"cleanup.policy": "delete", **copies}  # outputs: the broker's retention
    return [
        NewTopic(topics.events, topics.partitions, factor, topic_configs=source),
        NewTopic(topics.commands, topics.partitions, factor, topic_configs=source),
        NewTopic(topics.decisions, topics.partitions, factor, topic_configs=derived),
        # One partition: its offsets are the global policy version; compacted, so the latest
        # record per channel/location is kept forever.
        NewTopic(topics.policy, 1, factor, topic_configs={"cleanup.policy": "compact", **copies}),
        NewTopic(topics.dlq, 1, factor, topic_configs=derived),
        # An order's own log (key: the order ref) and the locations' capacity asks (key: the
        # location): each has one owner at a time, like a SKU's partition.
        NewTopic(topics.orders, topics.partitions, factor, topic_configs=source),
        NewTopic(topics.capacity, topics.partitions, factor, topic_configs=source),
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(**client_options(settings.kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted_topics(settings) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                await admin.create_topics(missing)
            log.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()


async def ensure_topics_when_reachable(settings: Settings, wait_s: float) -> list[str]:
    """`ensure_topics`, waiting up to `wait_s` for the broker to answer (a worker restarted
    during a broker restart waits for it instead of exiting)."""
    deadline = time.monotonic() + wait_s
    retry_s = 1.0
    while True:
        try:
            return await ensure_topics(settings)
        except KafkaConnectionError as error:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise
            log.warning(
                "Kafka at %s is not reachable (%s); retrying for up to %.0f s more",
                settings.kafka.bootstrap, error, left_s,
            )  # fmt: skip
            await asyncio.sleep(min(retry_s, left_s))
            retry_s = min(retry_s * 2, 10.0)
