"""A pusher outlives a Redis outage: it backs off, then resumes (no exit)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from connectors.pushers import runner as runner_module
from connectors.pushers.runner import Pusher


class FlakyRunner:
    """Stands in for the Redis side: fails twice, then follows until stopped."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.calls = 0
        self.stop = stop

    async def follow(self, stop: asyncio.Event) -> None:
        self.calls += 1
        if self.calls <= 2:
            raise RedisConnectionError("Connection closed by server.")
        stop.set()


def test_lost_redis_connections_are_retried_until_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner_module, "REDIS_RETRY_S", 0.001)
    stop = asyncio.Event()
    flaky = FlakyRunner(stop)
    pusher: Any = object.__new__(Pusher)
    pusher._follow = flaky.follow

    class Sink:
        name = "webhook"

    pusher._sink = Sink()
    asyncio.run(Pusher.run(pusher, stop))
    assert flaky.calls == 3
