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
from tests.support.isolation import free_port

pytestmark = pytest.mark.integration


def _via_port(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"port": port})})


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to: int) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", to)

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65_536):
            sink.write(data)
            await sink.drain()
        sink.close()

    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_the_worker_start_waits_for_a_broker_that_answers_late(
    isolated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    relay_port = free_port()
    late = _via_port(isolated, relay_port)

    async def open_relay_later() -> asyncio.Server:
        await asyncio.sleep(3.0)
        return await asyncio.start_server(
            lambda r, w: _relay(r, w, isolated.kafka.port), "127.0.0.1", relay_port
        )

    opening = asyncio.ensure_future(open_relay_later())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tally.topics"):
        created = await ensure_topics_when_reachable(late, wait_s=60)
    server = await opening
    server.close()
    assert time.monotonic() - started >= 3.0
    assert created == []  # the test's topics exist already: the broker really answered
    assert any("not reachable" in record.getMessage() for record in caplog.records)


async def test_the_worker_start_gives_up_after_its_wait() -> None:
    nobody = Settings().model_copy(deep=True)
    unreachable = _via_port(nobody, free_port())
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        await ensure_topics_when_reachable(unreachable, wait_s=2)
    assert 2.0 <= time.monotonic() - started < 30
