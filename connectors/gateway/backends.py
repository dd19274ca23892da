"""What the gateway talks to: Kafka (produce, request/reply), Redis (the read path) and the
event log (as-of reads).

Each sits behind a small protocol so unit tests run the app with in-memory fakes; the real
ones are `KafkaBus`, `RedisReads` and `KafkaHistory`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, cast

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from base import redis_keys
from base.kafka_client import client_options, start_or_close
from base.settings import Settings
from base.topics import cached_partitioner, ensure_topics_when_reachable
from connectors.as_of import StockAsOf, stock_at
from connectors.gateway.errors import BackendUnavailable
from connectors.gateway.replies import DecisionFollower, Waiters
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import TopicMissing
from ledger.codec import encode
from ledger.commands import Decision, HoldCommand

log = logging.getLogger("tally.gateway")

KeyValue = tuple[bytes, bytes]
SCAN_COUNT = 1_000


class Figure(NamedTuple):
    """A published figure and its version ("S-P", see base.redis_keys), if any."""

    available: int | None
    version: str | None
    text: str | None = None  # a figure published as JSON (availability by date)


class Bus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def produce(self, topic: str, records: Sequence[KeyValue]) -> None:
        """Send all and return once Kafka acknowledged every one (acks=all)."""

    async def ask(self, command: HoldCommand) -> Decision:
        """Produce a hold command and wait (bounded) for its decision."""

    async def ping(self) -> None:
        """Raise unless the broker answers."""


class Reads(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ats(self, channel: str, skus: Sequence[str]) -> list[Figure]: ...
    async def order_view(self, ref: str) -> str | None:
        """The order's published view (JSON), None if Redis has none."""
        ...

    async def locations(self, sku: str) -> tuple[dict[str, int], bool]:
        """location -> units for `sku`, and whether the location scan was truncated."""

    async def horizon(self, channel: str, sku: str) -> Figure | None:
        """The SKU's availability by date in `channel` (base.horizons JSON in `text`)."""

    async def ping(self) -> None: ...


class History(Protocol):
    async def stock_as_of(self, sku: str, at: datetime) -> StockAsOf:
        """The SKU's positions at `at` (tz-aware), rebuilt from the event log;
        BackendUnavailable when the log cannot be read."""


class KafkaHistory:
    """As-of reads from the log, each on a consumer of its own (connectors/as_of.py), at most
    `as_of_concurrent_max` at once: a replay reads a partition of each SKU-keyed topic."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._running = asyncio.Semaphore(settings.gateway.as_of_concurrent_max)

    async def stock_as_of(self, sku: str, at: datetime) -> StockAsOf:
        async with self._running:
            try:
                return await stock_at(self._settings, sku, at)
            except (ServiceDown, TopicMissing, KafkaError) as error:
                raise BackendUnavailable(f"the event log cannot be read: {error}") from None


class KafkaBus:
    """An idempotent acks=all producer plus this process's decision follower."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.waiters = Waiters(settings.gateway.hold_waiters_max)
        self._follower = DecisionFollower(settings, self.waiters)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # A gateway restarted while its broker restarts waits for it rather than exiting.
        await ensure_topics_when_reachable(self._settings, self._settings.gateway.broker_wait_s)
        producer = AIOKafkaProducer(
            **client_options(self._settings.kafka),
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            partitioner=cached_partitioner,
            request_timeout_ms=int(self._settings.gateway.produce_timeout_s * 1000),
        )
        await start_or_close(producer)
        self._producer = producer
        # The producer waits for the topic's metadata (it may have been created just now).
        decisions = await producer.partitions_for(self._settings.topics.decisions)
        await self._follower.start(set(decisions))

    async def stop(self) -> None:
        await self._follower.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise ConnectionError("kafka producer not started")
        return self._producer

    async def produce(self, topic: str, records: Sequence[KeyValue]) -> None:
        producer = self._started()

        async def send_all() -> None:
            pending = [await producer.send(topic, value, key=key) for key, value in records]
            await asyncio.gather(*pending)

        await asyncio.wait_for(send_all(), self._settings.gateway.produce_timeout_s)

    async def ask(self, command: HoldCommand) -> Decision:
        topic = self._settings.topics.commands
        with self.waiters.register(command) as decided:
            await self.produce(topic, [(command.sku.encode(), encode(command))])
            return await asyncio.wait_for(decided, self._settings.gateway.hold_wait_timeout_s)

    async def ping(self) -> None:
        producer = self._started()
        if not self._follower.running:
            raise ConnectionError("decision follower down (restarting)")
        await asyncio.wait_for(
            producer.client.fetch_all_metadata(), self._settings.gateway.health_timeout_s
        )


class RedisReads:
    """Figures from the read path; location keys found by a bounded, cached SCAN.

    There is no index of locations per SKU in Redis, and the location set is small (stores
    and warehouses, not SKUs): the `tally:loc:*` key names are listed with SCAN (at most
    `location_keys_max`), cached `location_keys_cache_s`, and the SKU's field read from each
    with one pipelined round trip.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: aioredis.Redis | None = None
        self._location_keys: tuple[list[str], bool] = ([], False)
        self._location_keys_at = float("-inf")
        self._scan_lock = asyncio.Lock()

    async def start(self) -> None:
        redis_settings = self._settings.redis
        self._client = aioredis.Redis.from_url(
            redis_settings.url,
            decode_responses=True,
            socket_timeout=redis_settings.socket_timeout_s,
            socket_connect_timeout=redis_settings.socket_timeout_s,
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise ConnectionError("redis client not started")
        return self._client

    async def ats(self, channel: str, skus: Sequence[str]) -> list[Figure]:
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.hmget(redis_keys.ats_key(channel), list(skus))
            pipe.hmget(redis_keys.version_key("ats", channel), list(skus))
            units, versions = cast(list[list[str | None]], await pipe.execute())
        return [
            Figure(
                None if value is None else int(value),
                None if version is None else version.split(":", 1)[0],
            )
            for value, version in zip(units, versions, strict=True)
        ]

    async def horizon(self, channel: str, sku: str) -> Figure | None:
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.hget(redis_keys.atp_key(channel), sku)
            pipe.hget(redis_keys.version_key("atp", channel), sku)
            text, version = cast(list[str | None], await pipe.execute())
        if text is None:
            return None
        return Figure(None, None if version is None else version.split(":", 1)[0], text)

    async def order_view(self, ref: str) -> str | None:
        view = await self._redis().hget(redis_keys.order_key(ref), "view")
        return None if view is None else str(view)

    async def locations(self, sku: str) -> tuple[dict[str, int], bool]:
        keys, truncated = await self._scan_location_keys()
        if not keys:
            return {}, truncated
        async with self._redis().pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, sku)
            values = cast(list[str | None], await pipe.execute())
        found = {
            key.removeprefix(redis_keys.LOC_PREFIX): int(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }
        return found, truncated

    async def _scan_location_keys(self) -> tuple[list[str], bool]:
        gateway = self._settings.gateway
        async with self._scan_lock:
            if time.monotonic() - self._location_keys_at < gateway.location_keys_cache_s:
                return self._location_keys
            keys: list[str] = []
            truncated = False
            async for key in self._redis().scan_iter(
                match=f"{redis_keys.LOC_PREFIX}*", count=SCAN_COUNT
            ):
                if len(keys) >= gateway.location_keys_max:
                    truncated = True
                    log.warning("more than %d location keys: list truncated", len(keys))
                    break
                keys.append(cast(str, key))
            self._location_keys = (sorted(keys), truncated)
            self._location_keys_at = time.monotonic()
            return self._location_keys

    async def ping(self) -> None:
        await asyncio.wait_for(self._redis().ping(), self._settings.gateway.health_timeout_s)
