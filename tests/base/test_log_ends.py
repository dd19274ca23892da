"""base.log_ends: each partition's log end, asked of a real broker by a client of its own;
bounded in time when the broker cannot be reached."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from base.kafka_client import client_options
from base.log_ends import LogEnds
from base.settings import KafkaSettings, Settings
from ops.stack.ports import free_port


@pytest.mark.integration
def test_the_log_end_moves_with_every_record_produced(isolated: Settings) -> None:
    events = isolated.topics.events

    async def run() -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        ends = LogEnds(isolated.kafka)
        producer = AIOKafkaProducer(**client_options(isolated.kafka))
        await producer.start()
        try:
            before = await ends([(events, 0), (events, 1)])
            for _ in range(3):
                await producer.send_and_wait(events, b"{}", partition=1)
            return before, await ends([(events, 0), (events, 1)])
        finally:
            await producer.stop()
            await ends.stop()

    before, after = asyncio.run(run())
    assert before == {(events, 0): 0, (events, 1): 0}
    assert after == {(events, 0): 0, (events, 1): 3}


def test_a_refused_connection_is_kafkas_error() -> None:
    ends = LogEnds(KafkaSettings(port=free_port()), timeout_s=10.0)
    with pytest.raises(KafkaConnectionError):
        asyncio.run(ends([("tally.events", 0)]))


def test_a_broker_that_never_answers_is_a_timeout_not_a_hang() -> None:
    with socket.socket() as black_hole:  # accepts connections, never answers a request
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen()
        port = int(black_hole.getsockname()[1])
        ends = LogEnds(KafkaSettings(port=port), timeout_s=0.5)
        with pytest.raises(TimeoutError):
            asyncio.run(ends([("tally.events", 0)]))


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LogEnds(KafkaSettings(), timeout_s=0)


def test_no_partitions_asks_nothing() -> None:
    assert asyncio.run(LogEnds(KafkaSettings())([])) == {}
