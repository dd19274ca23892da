"""Bounded reads of Tally's Kafka topics for the CLI and resync (read_committed, no group).

A SKU's records live on one partition of each SKU-keyed topic: the one Kafka's default
partitioner (murmur2 of the key) picks, which is what every producer and the positions
changelog use. So one SKU's state or history is one partition scan, never a topic scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from base.kafka_client import client_options, start_or_close
from base.policy_log import PolicyLog
from base.settings import Settings
from base.table_layout import is_key_of, is_state_key
from base.table_layout import read_state as read_stored_state
from base.topics import changelog_topic, partition_for
from connectors.inspect.errors import ServiceDown
from connectors.partition_read import IDLE_S_MAX, read_partitions
from ledger.errors import DecodeError
from ledger.policy import PolicyBook
from ledger.state import SkuState

FETCH_RECORDS_MAX = 5_000  # records per poll
REQUEST_TIMEOUT_MS = 5_000


class TopicMissing(Exception):
    """A topic the CLI reads does not exist (no worker ever ran with these settings)."""


@asynccontextmanager
async def kafka_consumer(
    settings: Settings, *, isolation_level: str = "read_committed"
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer with no group (read_committed unless told otherwise); ServiceDown
    if Kafka does not answer."""
    consumer = AIOKafkaConsumer(
        **client_options(settings.kafka),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation_level,
        client_id="tally-cli",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        max_poll_records=FETCH_RECORDS_MAX,
    )
    try:
        await start_or_close(consumer)
    except KafkaConnectionError:
        detail = "no broker answered: connection refused or timed out"
        raise ServiceDown("Kafka", settings.kafka.bootstrap, detail) from None
    except (KafkaError, OSError) as error:
        raise ServiceDown("Kafka", settings.kafka.bootstrap, _brief(error)) from None
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partition_count(consumer: AIOKafkaConsumer, topic: str, what: str) -> int:
    """Partitions of `topic`; TopicMissing (naming `what`) when it does not exist."""
    # consumer.topics() fetches the cluster's metadata but does not keep it, so
    # partitions_for_topic() would not know a topic never assigned yet: ask the client.
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic)
    if topic not in cluster.topics():
        raise TopicMissing(f"{what}: topic {topic!r} does not exist")
    if not partitions:
        raise TopicMissing(f"{what}: topic {topic!r} has no partitions")
    return len(partitions)


async def scan(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    *,
    start_offsets: dict[TopicPartition, int] | None = None,
    end_offsets: dict[TopicPartition, int] | None = None,
    idle_s_max: float = IDLE_S_MAX,
) -> AsyncIterator[ConsumerRecord]:
    """Every committed record of `partitions` from the start (or `start_offsets`) to the end
    offset seen when the scan began (or `end_offsets`); records of one partition come in
    offset order."""
    chosen = list(partitions)
    consumer.assign(chosen)
    ends = end_offsets if end_offsets is not None else await consumer.end_offsets(chosen)
    begins: dict[TopicPartition, int] = await consumer.beginning_offsets(chosen)
    starts = {tp: max(begins[tp], (start_offsets or {}).get(tp, 0)) for tp in chosen}
    async for record in read_partitions(consumer, starts, ends, idle_s_max=idle_s_max):
        yield record


async def log_ends(
    settings: Settings, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Each partition's high watermark: past every acknowledged record, committed or not.

    A read_committed consumer's end offsets stop at the first transaction still open; a read
    to these ends waits for the transactions open now to end (and then holds their records
    if they committed)."""
    async with kafka_consumer(settings, isolation_level="read_uncommitted") as consumer:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions))
        return ends


async def read_policy(consumer: AIOKafkaConsumer, settings: Settings) -> tuple[PolicyBook, int]:
    """The whole policy topic folded into a book, and its version (as a worker computes it)."""
    topic = settings.topics.policy
    if topic not in await consumer.topics():
        return PolicyBook(), 0
    policy = PolicyLog()
    async for record in scan(consumer, [TopicPartition(topic, 0)]):
        policy.apply(record.offset, record.value)
    return policy.book, policy.version


async def read_state(consumer: AIOKafkaConsumer, settings: Settings, sku: str) -> SkuState | None:
    """The SKU's latest committed state from the positions changelog (None: never seen)."""
    topic = changelog_topic(settings)
    count = await partition_count(consumer, topic, "positions changelog")
    tp = TopicPartition(topic, partition_for(sku, count))
    latest: dict[bytes, bytes | None] = {}  # the SKU's core and its journal chunks
    async for record in scan(consumer, [tp]):
        if record.key is not None and is_key_of(record.key, sku):
            latest[record.key] = record.value  # None is a tombstone
    return read_stored_state(latest.get, sku)


async def read_all_states(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    partition: int,
    *,
    end: int | None = None,
    idle_s_max: float = IDLE_S_MAX,
) -> tuple[dict[str, SkuState], int]:
    """Every SKU's latest state on one changelog partition (read to `end`, by default the
    committed end now), and how many were unreadable."""
    tp = TopicPartition(changelog_topic(settings), partition)
    ends = None if end is None else {tp: end}
    latest: dict[bytes, bytes | None] = {}
    async for record in scan(consumer, [tp], end_offsets=ends, idle_s_max=idle_s_max):
        if record.key is not None:
            latest[record.key] = record.value
    states: dict[str, SkuState] = {}
    unreadable = 0
    for key, raw in latest.items():
        if raw is None or not is_state_key(key):
            continue
        try:
            state = read_stored_state(latest.get, key.decode())
        except DecodeError:
            unreadable += 1
            continue
        if state is not None:
            states[state.sku] = state
    return states, unreadable


async def read_table(settings: Settings) -> dict[str, SkuState]:
    """The positions table as committed in its changelog (every partition).

    Raises `DecodeError` if any state is unreadable (for checks that compare the table).
    """
    table: dict[str, SkuState] = {}
    topic = changelog_topic(settings)
    async with kafka_consumer(settings) as consumer:
        count = await partition_count(consumer, topic, "positions changelog")
        for partition in range(count):
            states, unreadable = await read_all_states(consumer, settings, partition)
            if unreadable:
                raise DecodeError(
                    f"{unreadable} unreadable states in changelog partition {partition}"
                )
            table.update(states)
    return table


def _brief(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]


async def read_states_sample(
    settings: Settings, wanted: Callable[[SkuState], bool], skus_max: int, records_max: int
) -> tuple[list[SkuState], bool]:
    """The first `skus_max` SKUs (by name) whose state is `wanted`, from at most
    `records_max` changelog keys; and whether either bound cut the sample short."""
    topic = changelog_topic(settings)
    latest: dict[bytes, bytes | None] = {}
    truncated = False
    async with kafka_consumer(settings) as consumer:
        count = await partition_count(consumer, topic, "positions changelog")
        tps = [TopicPartition(topic, p) for p in range(count)]
        async for record in scan(consumer, tps):
            if len(latest) >= records_max:
                truncated = True
                break
            if record.key is not None:
                latest[record.key] = record.value
    chosen: list[SkuState] = []
    for key in sorted(k for k, raw in latest.items() if raw is not None and is_state_key(k)):
        try:
            state = read_stored_state(latest.get, key.decode())
        except DecodeError:
            continue
        if state is not None and wanted(state):
            if len(chosen) >= skus_max:
                return chosen, True
            chosen.append(state)
    return chosen, truncated
