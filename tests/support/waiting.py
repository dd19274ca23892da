"""Poll real systems until a condition holds, with a bounded wait and a useful failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar, cast

import redis

from base.settings import Settings

T = TypeVar("T")
POLL_INTERVAL_S = 0.05


def wait_until(
    probe: Callable[[], T], done: Callable[[T], bool], *, timeout_s: float, what: str
) -> T:
    """Call `probe` until `done(result)`; raise with the last result after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    result = probe()
    while not done(result):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what}; last: {result!r}"
            )
        time.sleep(POLL_INTERVAL_S)
        result = probe()
    return result


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis.url, decode_responses=True)


def wait_for_figure(
    client: redis.Redis, key: str, sku: str, expected: str, *, timeout_s: float = 30.0
) -> str | None:
    return wait_until(
        lambda: cast(str | None, client.hget(key, sku)),
        lambda value: value == expected,
        timeout_s=timeout_s,
        what=f"{key}[{sku}] == {expected}",
    )


def hget(client: redis.Redis, key: str, field: str) -> str | None:
    """HGET with the decoded type redis-py's stubs cannot express."""
    return cast(str | None, client.hget(key, field))


def stream_entries(client: redis.Redis, key: str) -> list[dict[str, str]]:
    """Every entry of a Redis stream, oldest first (fields only)."""
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(key))
    return [fields for _, fields in entries]
