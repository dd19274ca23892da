"""A known load for tests that measure rates: `received` facts at a steady rate, in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer

from base.settings import Settings
from tests.support.isolation import unique
from tests.support.kafka_io import fact

TICK_S = 0.05


@dataclass
class Load:
    """What the load sends: one unit at a time of `sku` received at `location`."""

    sku: str = field(default_factory=lambda: unique("LOAD"))
    location: str = field(default_factory=lambda: unique("load-wh"))
    sent: int = 0


async def _produce(settings: Settings, per_s: int, stop: threading.Event, load: Load) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    started = time.monotonic()
    try:
        while not stop.is_set():
            due = int((time.monotonic() - started) * per_s) - load.sent
            for _ in range(due):  # catch up to the schedule, never ahead of it
                body = orjson.dumps(fact(unique("e"), "received", load.sku, load.location, 1))
                await producer.send(settings.topics.events, body, key=load.sku.encode())
            load.sent += max(due, 0)
            await asyncio.sleep(TICK_S)
        await producer.flush()
    finally:
        await producer.stop()


@contextmanager
def steady_load(settings: Settings, per_s: int) -> Iterator[Load]:
    """`received` facts at `per_s` on the events topic while the block runs."""
    stop, load = threading.Event(), Load()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_produce(settings, per_s, stop, load))
        except BaseException as error:  # reported to the test below
            failure.append(error)

    thread = threading.Thread(target=run, name="steady-load", daemon=True)
    thread.start()
    try:
        yield load
    finally:
        stop.set()
        thread.join(timeout=30)
    if failure:
        raise failure[0]
