"""The figures channels read from Redis, with the version and publish time of each."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from base.redis_keys import (
    FigureKind,
    FigureVersion,
    ats_key,
    loc_key,
    parse_version_record,
    version_key,
)
from base.settings import Settings
from connectors.inspect.errors import ServiceDown


class Published(NamedTuple):
    """One published figure; every field None when nothing is published for it."""

    units: int | None
    version: FigureVersion | None
    published_ms: int | None

    def age_s(self, now_ms: int | None = None) -> float | None:
        if self.published_ms is None or self.published_ms == 0:
            return None
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return max(0.0, (now_ms - self.published_ms) / 1000)


NOT_PUBLISHED = Published(None, None, None)


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A Redis client that answered PING; ServiceDown if Redis does not answer."""
    client = aioredis.Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s,
        socket_connect_timeout=settings.redis.socket_timeout_s,
        decode_responses=True,
    )
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        address = f"{settings.redis.host}:{settings.redis.port}"
        raise ServiceDown("Redis", address, redis_detail(error)) from None
    try:
        yield client
    finally:
        await client.aclose()


def redis_detail(error: BaseException) -> str:
    """A short reason; redis-py's own message repeats the address."""
    if isinstance(error, RedisConnectionError | OSError):
        return "connection refused or timed out"
    return f"{type(error).__name__}: {error}"


async def read_published(
    client: aioredis.Redis, kind: FigureKind, scopes: Sequence[str], sku: str
) -> dict[str, Published]:
    """The published figure of `sku` in each channel ("ats") or location ("loc") scope."""
    if not scopes:
        return {}
    pipe = client.pipeline(transaction=False)
    for scope in scopes:
        key = ats_key(scope) if kind == "ats" else loc_key(scope)
        pipe.hget(key, sku)
        pipe.hget(version_key(kind, scope), sku)
    replies = await pipe.execute()
    figures: dict[str, Published] = {}
    for index, scope in enumerate(scopes):
        units, record = replies[2 * index], replies[2 * index + 1]
        figures[scope] = _published(units, record)
    return figures


def _published(units: str | None, record: str | None) -> Published:
    if units is None:
        return NOT_PUBLISHED
    if record is None:
        return Published(int(units), None, None)
    version, published_ms = parse_version_record(record)
    return Published(int(units), version, published_ms)
