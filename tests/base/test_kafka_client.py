"""base.kafka_client.start_or_close: a client whose start fails is stopped before the error
goes on, so no half-started client is left to leak its connections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from base import policy_follower
from base.kafka_client import client_options, start_or_close
from base.settings import KafkaSettings, Settings
from ops.stack.ports import free_port


def _unanswered_kafka() -> KafkaSettings:
    """Settings naming a port nothing listens on."""
    return KafkaSettings(host="127.0.0.1", port=free_port())


class _Client:
    def __init__(self, start_error: BaseException | None) -> None:
        self._start_error = start_error
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        if self._start_error is not None:
            raise self._start_error

    async def stop(self) -> None:
        self.calls.append("stop")


def test_a_started_client_is_left_running() -> None:
    client = _Client(None)
    asyncio.run(start_or_close(client))
    assert client.calls == ["start"]


@pytest.mark.parametrize("error", [KafkaConnectionError("down"), asyncio.CancelledError()])
def test_a_failed_start_stops_the_client_and_raises_the_same_error(
    error: BaseException,
) -> None:
    client = _Client(error)
    with pytest.raises(type(error)):
        asyncio.run(start_or_close(client))
    assert client.calls == ["start", "stop"]


@pytest.mark.parametrize("kind", [AIOKafkaConsumer, AIOKafkaProducer])
def test_a_real_client_with_no_broker_is_closed_after_the_error(
    kind: type[AIOKafkaConsumer] | type[AIOKafkaProducer],
) -> None:
    async def run() -> AIOKafkaConsumer | AIOKafkaProducer:
        client = kind(**client_options(_unanswered_kafka()), request_timeout_ms=1_000)
        with pytest.raises(KafkaConnectionError):
            await start_or_close(client)
        return client

    client = asyncio.run(run())
    assert client._closed is True  # aiokafka's own flag; its __del__ warns while it is False


def test_the_policy_follower_closes_its_consumer_when_kafka_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[AIOKafkaConsumer] = []

    class NotedConsumer(AIOKafkaConsumer):  # type: ignore[misc]  # a real one, kept to check
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(policy_follower, "AIOKafkaConsumer", NotedConsumer)
    follower = policy_follower.PolicyFollower(Settings(kafka=_unanswered_kafka()))

    async def nothing(*_books: object) -> None:
        return None

    # Before, the consumer's start failed outside the follower's try: it was never stopped,
    # and its ResourceWarning at collection failed whichever test ran next.
    with pytest.raises(KafkaConnectionError):
        asyncio.run(follower.run(nothing))
    assert len(made) == 1
    assert made[0]._closed is True
