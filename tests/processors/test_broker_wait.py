"""A starting worker waits for Kafka instead of exiting (a worker restarted while its broker
restarts). The broker "comes back" here as a relay to the real one opening late."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiokafka.errors import KafkaConnectionError

from base.settings import Settings
from base.topics import ensure_topics_when_reachable
from ops.stack.ports import free_port
from tests.support.late_broker import open_relay_after, via_port

pytestmark = pytest.mark.integration


async def test_the_worker_start_waits_for_a_broker_that_answers_late(
    isolated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    relay_port = free_port()
    late = via_port(isolated, relay_port)
    opening = asyncio.ensure_future(open_relay_after(3.0, relay_port, isolated.kafka.port))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tally.topics"):
        created = await ensure_topics_when_reachable(late, wait_s=60)
    relay = await opening
    await asyncio.to_thread(relay.stop)
    assert time.monotonic() - started >= 3.0
    assert created == []  # the test's topics exist already: the broker really answered
    assert any("not reachable" in record.getMessage() for record in caplog.records)


async def test_the_worker_start_gives_up_after_its_wait() -> None:
    nobody = Settings().model_copy(deep=True)
    unreachable = via_port(nobody, free_port())
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        await ensure_topics_when_reachable(unreachable, wait_s=2)
    assert 2.0 <= time.monotonic() - started < 30
