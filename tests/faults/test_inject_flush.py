"""devtools.faults.inject: a Redis flush waits until Redis serves (no Redis needed)."""

from __future__ import annotations

import pytest
import redis

from devtools.faults.inject import flush_when_serving


class LoadingRedis:
    """Answers LOADING (then refuses the connection) a few times before it flushes."""

    def __init__(self, not_serving: list[Exception]) -> None:
        self.not_serving = not_serving
        self.flushed = 0

    def flushall(self) -> bool:
        if self.not_serving:
            raise self.not_serving.pop(0)
        self.flushed += 1
        return True


def test_a_flush_waits_out_a_redis_still_loading_its_data() -> None:
    client = LoadingRedis(
        [
            redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
            redis.exceptions.ConnectionError("refused"),
        ]
    )
    flush_when_serving(client, wait_s=5, poll_s=0)  # type: ignore[arg-type]
    assert (client.flushed, client.not_serving) == (1, [])


def test_a_redis_that_never_serves_fails_the_flush_after_the_wait() -> None:
    busy = [redis.exceptions.BusyLoadingError("loading")] * 1000
    with pytest.raises(redis.exceptions.BusyLoadingError):
        flush_when_serving(LoadingRedis(busy), wait_s=0.05, poll_s=0.01)  # type: ignore[arg-type]
