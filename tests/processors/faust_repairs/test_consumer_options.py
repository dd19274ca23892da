"""The worker's consumer as FaustRepairs has Faust build it (nothing connects: the consumer is
only built): `fetch_wait` gives it the configured long-poll wait, not Faust's fixed 1,500 ms,
and `static_membership` its group instance id when one is set."""

from __future__ import annotations

from typing import Any

import faust
import pytest

from base.log_ends import LogEnds
from base.settings import OrdersSettings, Settings, WorkerSettings
from processors.app import app_options
from processors.faust_repairs import FaustRepairs
from processors.orders.app import app_options as orders_app_options

FAUST_FETCH_WAIT_MS = 1500  # faust/transport/drivers/aiokafka.py, _create_worker_consumer


async def built_consumer(app: faust.App) -> tuple[int, str | None]:
    """(fetch wait, group instance id) of the aiokafka consumer `app`'s consumer thread would
    start (built, never started; closed again with the thread's loop)."""
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]
    consumer = thread._create_worker_consumer(app.transport)
    try:
        return int(consumer._fetch_max_wait_ms), consumer._group_instance_id
    finally:
        await consumer.stop()
        thread.thread_loop.close()


def built_app(section: str, wait_ms: int = 10, instance_id: str | None = None) -> faust.App:
    """The stream worker's app ("worker") or the order processor's ("orders"), repaired."""
    options: dict[str, Any] = {"fetch_wait_max_ms": wait_ms, "group_instance_id": instance_id}
    if section == "worker":
        settings = Settings(worker=WorkerSettings(**options))
        app = faust.App("tally-consumer-options-test", **app_options(settings))
        FaustRepairs(app, settings.worker, ["events"], LogEnds(settings.kafka))
        return app
    settings = Settings(orders=OrdersSettings(**options))
    app = faust.App("tally-consumer-options-orders-test", **orders_app_options(settings))
    FaustRepairs(app, settings.orders, ["orders"], LogEnds(settings.kafka))
    return app


@pytest.mark.parametrize("section", ["worker", "orders"])
async def test_the_consumer_waits_the_configured_time(section: str) -> None:
    FaustRepairs.install()
    assert await built_consumer(built_app(section, 7)) == (7, None)


@pytest.mark.parametrize("section", ["worker", "orders"])
async def test_a_configured_instance_id_makes_a_static_member(section: str) -> None:
    FaustRepairs.install()
    assert await built_consumer(built_app(section, 7, "worker-3")) == (7, "worker-3")


async def test_an_app_without_repairs_keeps_fausts_consumer() -> None:
    FaustRepairs.install()
    app = faust.App("tally-consumer-options-plain-test", **app_options(Settings()))
    assert await built_consumer(app) == (FAUST_FETCH_WAIT_MS, None)


def test_the_default_wait_is_far_below_fausts() -> None:
    # an empty fetch holds the broker's one in-flight request this long (fetch_wait's docstring)
    assert WorkerSettings().fetch_wait_max_ms * 10 <= FAUST_FETCH_WAIT_MS
    assert OrdersSettings().fetch_wait_max_ms * 10 <= FAUST_FETCH_WAIT_MS
