"""`tally demo`: the local stack, one worker, a small scanner feed, availability printed live.

Starts what is not already running (stack, worker), sets a three-channel policy, then
produces a seeded feed of receipts, sales, holds and returns while printing every change
the channels see (read back from the Redis change streams). Ctrl-C (or `--duration-s`)
stops the feed, the worker and whatever part of the stack this command started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, cast

import orjson
import redis.asyncio as aioredis
import typer
from aiokafka import AIOKafkaProducer

from base import redis_keys
from base.settings import Settings, get_settings
from ops.child_worker import ChildWorker
from ops.stack import StackError, ensure_up, stop_started

SKUS = ("TEE-BLK-M", "TEE-BLK-L", "MUG-WHT", "CAP-RED")
LOCATIONS = ("wh-east", "store-soho", "store-brooklyn")
CHANNELS: dict[str, tuple[str, ...]] = {
    "web": ("wh-east", "store-soho"),
    "marketplace": ("wh-east",),
    "pos-soho": ("store-soho",),
}
WORKER_READY_TIMEOUT_S = 120.0
StreamReplies = list[tuple[str, list[tuple[str, dict[str, str]]]]]  # XREAD, decoded


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def policy_records() -> list[tuple[bytes, bytes]]:
    """One channel record per demo channel, and 2 units of safety stock at the warehouse."""
    records: list[tuple[bytes, bytes]] = []
    for channel, locations in CHANNELS.items():
        record = {
            "kind": "channel",
            "channel": channel,
            "locations": list(locations),
            "buffer_units": 1 if channel == "marketplace" else 0,
            "strategy": "priority",
            "version": 1,
            "updated_at": now_iso(),
        }
        records.append((f"channel:{channel}".encode(), orjson.dumps(record)))
    safety = {
        "kind": "location",
        "location": "wh-east",
        "safety_stock_units": 2,
        "version": 1,
        "updated_at": now_iso(),
    }
    records.append((b"location:wh-east", orjson.dumps(safety)))
    return records


@dataclass(frozen=True)
class FeedItem:
    topic: str
    sku: str
    payload: dict[str, object]


def demo_feed(settings: Settings, seed: int) -> Iterator[FeedItem]:
    """An endless, seeded mix: an opening stock load, then sales, holds, returns, receipts."""
    rng = random.Random(seed)
    events, commands = settings.topics.events, settings.topics.commands

    def fact(kind: str, sku: str, location: str, qty: int, **extra: object) -> FeedItem:
        body: dict[str, object] = {
            "event_id": f"demo-{uuid.UUID(int=rng.getrandbits(128))}",
            "type": kind,
            "sku": sku,
            "location": location,
            "qty": qty,
            "occurred_at": now_iso(),
            "source": "demo-scanner",
            **extra,
        }
        return FeedItem(events, sku, body)

    for sku in SKUS:
        for location in LOCATIONS:
            yield fact("received", sku, location, rng.randint(5, 20))
    while True:
        sku, location = rng.choice(SKUS), rng.choice(LOCATIONS)
        roll = rng.random()
        if roll < 0.35:
            yield fact("sold_in_store", sku, location, rng.randint(1, 2))
        elif roll < 0.55:
            yield fact("order_placed", sku, location, 1, order_id=f"o-{rng.getrandbits(32)}")
        elif roll < 0.75:
            channel = rng.choice(list(CHANNELS))
            command = {
                "type": "reserve",
                "request_id": f"req-{rng.getrandbits(48)}",
                "hold_id": f"hold-{rng.getrandbits(48)}",
                "sku": sku,
                "channel": channel,
                "qty": 1,
                "ttl_s": 5,
                "issued_at": now_iso(),
            }
            yield FeedItem(commands, sku, command)
        elif roll < 0.85:
            yield fact("return_received", sku, location, 1)
        else:
            yield fact("received", sku, location, rng.randint(3, 10))


async def produce_feed(
    settings: Settings, seed: int, rate_per_s: float, stop: asyncio.Event
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in policy_records():
            await producer.send_and_wait(settings.topics.policy, value, key=key)
        for item in demo_feed(settings, seed):
            if stop.is_set():
                return
            await producer.send_and_wait(
                item.topic, orjson.dumps(item.payload), key=item.sku.encode()
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1 / rate_per_s)
    finally:
        await producer.stop()


async def print_changes(
    settings: Settings, stop: asyncio.Event, out: Callable[[str], None]
) -> None:
    """Follow every demo channel's change stream and print each new figure."""
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    streams = {redis_keys.changes_key(channel): "$" for channel in CHANNELS}
    try:
        while not stop.is_set():
            replies = await client.xread(streams, block=500, count=100)  # type: ignore[arg-type]
            for stream, entries in cast(
                list[tuple[str, list[tuple[str, dict[str, str]]]]], replies
            ):
                for entry_id, fields in entries:
                    streams[stream] = entry_id
                    channel = stream.removeprefix(redis_keys.CHANGES_PREFIX)
                    lag_ms = int(time.time() * 1000) - int(fields.get("ingested_at") or 0)
                    out(
                        f"{channel:<12} {fields['sku']:<10} available={fields['available']:>3}"
                        f"  version={fields['version']:<8} sync={lag_ms} ms"
                    )
    finally:
        await client.aclose()


async def run_demo(
    settings: Settings, *, seed: int, rate_per_s: float, duration_s: float | None,
    out: Callable[[str], None],
) -> None:  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    out("demo: channel      sku        available (live, from Redis)   — Ctrl-C to stop")
    await asyncio.gather(
        produce_feed(settings, seed, rate_per_s, stop), print_changes(settings, stop, out)
    )


def main(
    seed: Annotated[int, typer.Option(help="Seed of the demo feed.")] = 7,
    rate_per_s: Annotated[float, typer.Option(min=0.5, max=1_000.0, help="Feed rate.")] = 5.0,
    duration_s: Annotated[
        float | None, typer.Option(min=1.0, help="Stop after this long (default: Ctrl-C).")
    ] = None,
) -> None:
    """Run Tally live: stack up, one worker, a demo feed, availability printed as it changes."""
    settings = get_settings()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        started = ensure_up(settings, echo=typer.echo)
    except StackError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    worker = ChildWorker(settings, settings.stack.home / "logs" / "demo-worker.log")
    try:
        typer.echo(f"demo: starting a worker (log: {worker.log_path})")
        worker.start()
        worker.wait_metrics_up(WORKER_READY_TIMEOUT_S)
        asyncio.run(
            run_demo(
                settings, seed=seed, rate_per_s=rate_per_s, duration_s=duration_s, out=typer.echo
            )
        )
    finally:
        typer.echo("demo: stopping the worker and what this demo started")
        worker.stop(settings.stack.stop_timeout_s)
        stop_started(settings, started, echo=typer.echo)


if __name__ == "__main__":
    typer.run(main)
