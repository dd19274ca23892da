"""What the planner reads: published location figures of the order's SKUs (Redis), the open
supply a backorder may wait on, and the orders each location took today. A stale view is
fine: the ledger decides each hold."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from base.horizons import parse_supply
from base.redis_keys import capacity_key, loc_key, supply_key
from ledger.sourcing.model import Supply

log = logging.getLogger("tally.orders")


async def read_stock(
    client: aioredis.Redis, skus: Sequence[str], locations: Sequence[str]
) -> dict[str, dict[str, int]]:
    """sku -> location -> available units as published (missing: 0)."""
    stock: dict[str, dict[str, int]] = {sku: {} for sku in skus}
    for sku, location, raw in await _fields_by_location(client, loc_key, skus, locations):
        stock[sku][location] = int(raw)
    return stock


async def read_supply(
    client: aioredis.Redis, skus: Sequence[str], locations: Sequence[str]
) -> dict[str, dict[str, Supply]]:
    """sku -> location -> the open supply a backorder may wait on there (as published)."""
    supply: dict[str, dict[str, Supply]] = {sku: {} for sku in skus}
    for sku, location, raw in await _fields_by_location(client, supply_key, skus, locations):
        try:
            supply[sku][location] = parse_supply(raw)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable open supply of %s at %s: %r", sku, location, raw)
    return supply


async def _fields_by_location(
    client: aioredis.Redis,
    key_of: Callable[[str], str],
    skus: Sequence[str],
    locations: Sequence[str],
) -> list[tuple[str, str, Any]]:
    """(sku, location, raw) for every SKU field present in each location's hash, in one trip."""
    if not skus or not locations:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for location in locations:
            pipe.hmget(key_of(location), list(skus))
        replies = await pipe.execute()
    return [
        (sku, location, raw)
        for location, values in zip(locations, replies, strict=True)
        for sku, raw in zip(skus, values, strict=True)
        if raw is not None
    ]


async def read_capacity_taken(client: aioredis.Redis, days: Mapping[str, date]) -> dict[str, int]:
    """location -> orders it took on its local `days[location]`."""
    if not days:
        return {}
    locations = list(days)
    async with client.pipeline(transaction=False) as pipe:
        for location in locations:
            pipe.hget(capacity_key(location), days[location].isoformat())
        replies = await pipe.execute()
    return {loc: int(raw) for loc, raw in zip(locations, replies, strict=True) if raw is not None}


async def publish_capacity(client: aioredis.Redis, taken: Mapping[tuple[str, date], int]) -> None:
    if not taken:
        return
    async with client.pipeline(transaction=False) as pipe:
        for (location, day), count in taken.items():
            pipe.hset(capacity_key(location), day.isoformat(), count)
        await pipe.execute()
