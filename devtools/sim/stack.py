"""Tally's side of the simulation on the real stack: one worker on topics of its own folds the
model's facts, sent at a steady rate with gateway stamps; every figure it publishes gives
one sync latency (its change-stream entry's time less the stamp), and its KPI counters are
read back to compare with what the model's facts must give (devtools/sim/check.py).

The run's names (topics, app id, channels, SKUs) carry its own prefix (the bench's
`Namespace`); its Redis keys and topics are removed at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from base.redis_keys import changes_key, stranded_key
from base.settings import Settings
from base.topics import ensure_topics
from connectors.inspect.top import parse_samples
from devtools.bench.env import Namespace, delete_run_topics, reset_redis, wait_for, worker_progress
from devtools.sim import check
from devtools.sim.world import ONLINE, POS, channel_records, policy_book
from ledger.codec import encode
from ledger.events import Fact
from ops.child_worker import ChildWorker

log = logging.getLogger("tally.sim")
DRAIN_TIMEOUT_S = 600.0
SETTLE_S = 2.0  # after the last fact: the last figures published, the gauges ticked


@dataclass(frozen=True)
class StackRun:
    facts: int
    rate_per_s: float
    produce_s: float
    drain_s: float  # from the last fact sent to the worker having folded them all
    latencies_ms: list[float]  # one per channel figure the worker published
    expected: check.KpiCounters  # from the model's facts
    worker: check.KpiCounters  # read back from the worker
    differences: list[str]


def run(base: Settings, facts: Sequence[Fact], rate_per_s: float, work_dir: Path) -> StackRun:
    """Send `facts` through a worker of its own; measure, compare, clean up."""
    run_id = f"sim{uuid.uuid4().hex[:8]}"
    prefix = f"{run_id}-"
    channels = {f"{prefix}{name}": pool for name, pool in ONLINE.items()}
    channels |= {f"{prefix}{name}": (store,) for name, store in POS.items()}
    namespace = Namespace(run_id, (), channels)
    settings = namespace.settings(base, "tally", work_dir, partitions=4)
    asyncio.run(_prepare(settings, prefix))
    worker = ChildWorker(settings, work_dir / f"{run_id}-worker.log").start()
    try:
        worker.wait_metrics_up()
        _warm_up(settings, prefix)
        started = time.monotonic()
        asyncio.run(_produce(settings, facts, prefix, rate_per_s))
        sent = time.monotonic()
        port = settings.worker.metrics_port
        done = len(facts) + 1  # and the warm-up fact
        wait_for(lambda: worker_progress(port) >= done, DRAIN_TIMEOUT_S, "all facts folded")
        drained = time.monotonic()
        time.sleep(SETTLE_S)
        samples = parse_samples(worker.metrics_text())
        latencies = asyncio.run(_latencies(settings, [f"{prefix}{name}" for name in ONLINE]))
    finally:
        worker.stop()
        asyncio.run(_clean(settings, namespace))
    expected = check.expected_counters(facts, policy_book())
    got = check.worker_counters(samples, prefix)
    return StackRun(
        facts=len(facts),
        rate_per_s=rate_per_s,
        produce_s=round(sent - started, 2),
        drain_s=round(drained - sent, 2),
        latencies_ms=latencies,
        expected=expected,
        worker=got,
        differences=check.differences(expected, got),
    )


def _warm_up(settings: Settings, prefix: str) -> None:
    """Until the worker folds a first fact: its partitions are assigned and the policy read,
    so the timed facts measure the sync, not the start-up. The fact (expected supply)
    moves no figure and no KPI."""
    now, sku = datetime.now(UTC), f"{prefix}warm-up"
    fact = {
        "event_id": sku, "type": "supply_expected", "sku": sku,
        "location": "wh-east", "qty": 1, "occurred_at": now.isoformat(), "source": "sim",
        "order_id": "warm-up", "eta": (now + timedelta(days=1)).isoformat(),
    }  # fmt: skip
    record = (sku.encode(), orjson.dumps(fact))
    asyncio.run(_send(settings, settings.topics.events, [record]))
    port = settings.worker.metrics_port
    wait_for(lambda: worker_progress(port) >= 1, DRAIN_TIMEOUT_S, "the warm-up fact folded")


async def _prepare(settings: Settings, prefix: str) -> None:
    await ensure_topics(settings)
    records = [
        (f"{r['kind']}:{r.get('channel') or r.get('location')}".encode(), orjson.dumps(r))
        for r in channel_records(prefix)
    ]
    await _send(settings, settings.topics.policy, records)


async def _send(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await asyncio.gather(
            *[await producer.send(topic, value, key=key) for key, value in records]
        )
    finally:
        await producer.stop()


def wire(fact: Fact, prefix: str, now: datetime) -> tuple[bytes, bytes]:
    """The fact as the gateway would send it now: stamped, in the run's names."""
    sku = f"{prefix}{fact.sku}"
    source = f"{prefix}{fact.source}" if fact.source in ONLINE else fact.source
    update = {"sku": sku, "source": source, "occurred_at": now, "ingested_at": now}
    return sku.encode(), encode(fact.model_copy(update=update))


async def _produce(settings: Settings, facts: Sequence[Fact], prefix: str, rate: float) -> None:
    """Every fact at `rate` per second, each stamped when it is sent."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        pending, started = [], time.monotonic()
        for index, fact in enumerate(facts):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key, value = wire(fact, prefix, datetime.now(UTC))
            pending.append(await producer.send(settings.topics.events, value, key=key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _latencies(settings: Settings, channels: Sequence[str]) -> list[float]:
    """Per published channel figure: its change-stream entry's time less its stamp (ms)."""
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    latencies: list[float] = []
    try:
        for channel in channels:
            start = "-"
            while True:
                page = await client.xrange(changes_key(channel), start, "+", count=10_000)
                entries = cast(list[tuple[str, dict[str, str]]], page)
                for entry_id, fields in entries:
                    stamped = int(fields.get("ingested_at", 0))
                    if stamped:
                        latencies.append(float(int(entry_id.split("-")[0]) - stamped))
                if len(entries) < 10_000:
                    break
                start = f"({entries[-1][0]}"
    finally:
        await client.aclose()
    return latencies


async def _clean(settings: Settings, namespace: Namespace) -> None:
    await reset_redis(settings, namespace)
    client = aioredis.Redis.from_url(settings.redis.url)
    try:
        await client.delete(*(stranded_key(channel) for channel in namespace.channels))
    finally:
        await client.aclose()
    await delete_run_topics(settings, namespace)
