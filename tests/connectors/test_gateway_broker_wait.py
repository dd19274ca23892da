"""A starting gateway waits for Kafka instead of exiting (fault seed 38: the gateway was
killed and restarted while its broker was down; it exited on 'Unable to bootstrap' and every
client then met a refused connection until someone restarted it)."""

from __future__ import annotations

import asyncio
import time

import pytest

from base.settings import Settings
from connectors.gateway.backends import KafkaBus
from ops.stack.ports import free_port
from tests.support.late_broker import open_relay_after, via_port

pytestmark = pytest.mark.integration


async def test_the_gateway_bus_starts_once_a_late_broker_answers(isolated: Settings) -> None:
    relay_port = free_port()
    bus = KafkaBus(via_port(isolated, relay_port))
    opening = asyncio.ensure_future(open_relay_after(3.0, relay_port, isolated.kafka.port))
    started = time.monotonic()
    await bus.start()
    try:
        assert time.monotonic() - started >= 3.0
        await bus.produce(isolated.topics.events, [])  # started: nothing raised
    finally:
        await bus.stop()
        relay = await opening
        await asyncio.to_thread(relay.stop)
