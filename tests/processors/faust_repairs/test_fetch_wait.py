"""processors.faust_repairs.fetch_wait: the worker's consumer fetches with the configured
long-poll wait, not Faust's fixed 1,500 ms (nothing connects: the consumer is only built)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
import pytest

from base.log_ends import LogEnds
from base.settings import OrdersSettings, Settings, WorkerSettings
from processors.app import app_options
from processors.faust_repairs import FaustRepairs
from processors.orders.app import app_options as orders_app_options

FAUST_FETCH_WAIT_MS = 1500  # faust/transport/drivers/aiokafka.py, _create_worker_consumer


async def fetch_wait_ms(app: faust.App) -> int:
    """The fetch wait of the aiokafka consumer `app`'s consumer thread would start (built,
    never started; closed again with the thread's loop)."""
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]
    consumer = thread._create_worker_consumer(app.transport)
    try:
        return int(consumer._fetch_max_wait_ms)
    finally:
        await consumer.stop()
        thread.thread_loop.close()


def worker_app(wait_ms: int) -> faust.App:
    settings = Settings(worker=WorkerSettings(fetch_wait_max_ms=wait_ms))
    app = faust.App("tally-fetch-wait-test", **app_options(settings))
    FaustRepairs(app, settings.worker, ["events"], LogEnds(settings.kafka))
    return app


def orders_app(wait_ms: int) -> faust.App:
    settings = Settings(orders=OrdersSettings(fetch_wait_max_ms=wait_ms))
    app = faust.App("tally-fetch-wait-orders-test", **orders_app_options(settings))
    FaustRepairs(app, settings.orders, ["orders"], LogEnds(settings.kafka))
    return app


@pytest.mark.parametrize("build", [worker_app, orders_app], ids=["worker", "orders"])
async def test_the_consumer_waits_the_configured_time(
    build: Callable[[int], faust.App],
) -> None:
    FaustRepairs.install()
    assert await fetch_wait_ms(build(7)) == 7


async def test_an_app_without_repairs_keeps_fausts_wait() -> None:
    FaustRepairs.install()
    app = faust.App("tally-fetch-wait-plain-test", **app_options(Settings()))
    assert await fetch_wait_ms(app) == FAUST_FETCH_WAIT_MS


def test_the_default_wait_is_far_below_fausts() -> None:
    # an empty fetch holds the broker's one in-flight request this long (module docstring)
    assert WorkerSettings().fetch_wait_max_ms * 10 <= FAUST_FETCH_WAIT_MS
    assert OrdersSettings().fetch_wait_max_ms * 10 <= FAUST_FETCH_WAIT_MS
