"""The floor: the thinnest path from the same topics to the same Redis keys, no fold.

A raw aiokafka consumer (no group, no transactions, no table, no validation, no idempotency)
reads the preloaded events + commands, keeps a plain dict of per-location counters, and per
polled batch writes the last value of every touched key in one pipeline: `tally:loc:*`,
`tally:ats:*` and their `tally:ver:*` hashes, and one `tally:changes:*` entry per changed
channel figure. It is what a Tally worker could not beat on this stack: the cost of reading
Kafka and writing Redis from Python, and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from base.settings import Settings
from devtools.bench.kafka_io import assign_all

POLL_TIMEOUT_MS = 200
POLL_RECORDS_MAX = 500  # the worker's take_batch_max

# fact type -> (bucket index, sign): 0 on_hand, 1 committed, 2 reserved, 3 unsellable
_BUCKET: dict[str, tuple[int, int]] = {
    "received": (0, 1),
    "sold_in_store": (0, -1),
    "shipped": (0, -1),
    "adjusted": (0, 1),
    "order_placed": (1, 1),
    "order_cancelled": (1, -1),
    "return_received": (3, 1),
    "return_graded": (3, -1),
    "damaged": (3, 1),
    "transfer_in": (0, 1),
    "transfer_out": (0, -1),
}


@dataclass
class FloorResult:
    records: int
    first_at: float
    last_at: float
    redis_calls: int
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        span = self.last_at - self.first_at
        return self.records / span if span > 0 else 0.0


class _Book:
    """Per-(sku, location) counters and the channel sums they feed."""

    def __init__(self, channels: dict[str, tuple[str, ...]]) -> None:
        self.channels = channels
        self.by_location: dict[str, list[str]] = {}
        for channel, locations in channels.items():
            for location in locations:
                self.by_location.setdefault(location, []).append(channel)
        self.positions: dict[tuple[str, str], list[int]] = {}
        self.holds: dict[str, tuple[str, int]] = {}
        self.version: dict[str, int] = {}

    def apply(self, body: dict[str, object]) -> tuple[str, str] | None:
        kind = str(body["type"])
        sku = str(body["sku"])
        if kind == "reserve":
            location = self.channels[str(body["channel"])][0]
            qty = int(str(body["qty"]))
            self.holds[str(body["hold_id"])] = (location, qty)
            self._bucket(sku, location)[2] += qty
        elif kind == "commit":
            held = self.holds.pop(str(body["hold_id"]), None)
            if held is None:
                return None
            location, qty = held
            position = self._bucket(sku, location)
            position[2] -= qty
            position[1] += qty
        else:
            location = str(body["location"])
            qty = int(str(body["qty"]))
            if kind == "counted":
                self._bucket(sku, location)[0] = qty
            elif kind in _BUCKET:
                index, sign = _BUCKET[kind]
                self._bucket(sku, location)[index] += sign * qty
            else:
                return None
        self.version[sku] = self.version.get(sku, 0) + 1
        return sku, location

    def _bucket(self, sku: str, location: str) -> list[int]:
        position = self.positions.get((sku, location))
        if position is None:
            position = self.positions[(sku, location)] = [0, 0, 0, 0]
        return position

    def available(self, sku: str, location: str) -> int:
        on_hand, committed, reserved, unsellable = self.positions.get((sku, location), (0, 0, 0, 0))
        return max(0, on_hand - committed - reserved - unsellable)

    def ats(self, sku: str, channel: str) -> int:
        return sum(self.available(sku, location) for location in self.channels[channel])


async def drain(
    settings: Settings,
    topics: list[str],
    channels: dict[str, tuple[str, ...]],
    expected: int,
    timeout_s: float,
) -> FloorResult:
    """Consume `expected` records from the start of `topics`, writing Redis per batch."""
    book = _Book(channels)
    client = aioredis.Redis.from_url(settings.redis.url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4_194_304,
    )
    await consumer.start()
    result = FloorResult(records=0, first_at=0.0, last_at=0.0, redis_calls=0)
    try:
        await assign_all(consumer, topics, settings.topics.partitions, at="beginning")
        deadline = time.monotonic() + timeout_s
        while result.records < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor: {result.records}/{expected} records in {timeout_s}s")
            batch = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS_MAX)
            messages = [m for part in batch.values() for m in part]
            if not messages:
                continue
            if not result.first_at:
                result.first_at = time.monotonic()
            await _write(client, book, messages)
            result.redis_calls += 1
            result.records += len(messages)
            result.last_at = time.monotonic()
            result.samples.append((result.last_at, result.records))
    finally:
        await consumer.stop()
        await client.aclose()
    return result


async def _write(client: aioredis.Redis, book: _Book, messages: list[object]) -> None:
    """One pipeline per batch: one HSET per touched hash (all its fields), one XADD per
    changed channel figure."""
    touched: dict[tuple[str, str], None] = {}
    for message in messages:
        body = orjson.loads(message.value)  # type: ignore[attr-defined]
        changed = book.apply(body)
        if changed is not None:
            touched[changed] = None
    now_ms = int(time.time() * 1000)
    values: dict[str, dict[str, int]] = {}
    versions: dict[str, dict[str, str]] = {}
    changes: dict[tuple[str, str], tuple[int, str]] = {}
    for sku, location in touched:
        version = f"{book.version[sku]}-0"
        values.setdefault(f"tally:loc:{location}", {})[sku] = book.available(sku, location)
        versions.setdefault(f"tally:ver:loc:{location}", {})[sku] = f"{version}:{now_ms}"
        for channel in book.by_location.get(location, ()):
            units = book.ats(sku, channel)
            values.setdefault(f"tally:ats:{channel}", {})[sku] = units
            versions.setdefault(f"tally:ver:ats:{channel}", {})[sku] = f"{version}:{now_ms}"
            changes[(channel, sku)] = (units, version)
    pipe = client.pipeline(transaction=False)
    for key, mapping in values.items():
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
    for key, text_mapping in versions.items():
        pipe.hset(key, mapping=text_mapping)  # type: ignore[arg-type]
    for (channel, sku), (units, version) in changes.items():
        pipe.xadd(
            f"tally:changes:{channel}",
            {"sku": sku, "available": units, "version": version, "ingested_at": now_ms},
            maxlen=10_000_000,
            approximate=True,
        )
    await pipe.execute()
