"""What the planner reads: published location figures of the order's SKUs (Redis), the open
supply a backorder may wait on, and the orders each location took today. A stale view is
fine: the ledger decides each hold."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from base.horizons import parse_supply
from base.redis_keys import capacity_key, loc_key, supply_key
from ledger.sourcing.model import Supply

log = logging.getLogger("tally.orders")


@dataclass(frozen=True)
class PlanAsk:
    """What one plan reads: its SKUs at its locations (and their open supply, for an order
    that may wait on one), and the orders each location took on its local `days[location]`."""

    skus: Sequence[str]
    locations: Sequence[str]
    days: Mapping[str, date]
    with_supply: bool


@dataclass(frozen=True)
class PlanView:
    """The published figures one plan reads (missing stock: 0; no supply read: None)."""

    stock: dict[str, dict[str, int]]  # sku -> location -> available units
    supply: dict[str, dict[str, Supply]] | None  # sku -> location -> open supply
    taken: dict[str, int]  # location -> orders taken on its day


async def read_plan_views(client: aioredis.Redis, asks: Sequence[PlanAsk]) -> list[PlanView]:
    """Each ask's published figures, all of a batch's read in one trip to Redis."""
    stock_wanted = _skus_by_location(asks, lambda ask: True)
    supply_wanted = _skus_by_location(asks, lambda ask: ask.with_supply)
    days = sorted({(location, day) for ask in asks for location, day in ask.days.items()})
    if not (stock_wanted or supply_wanted or days):
        return [PlanView({sku: {} for sku in ask.skus}, None, {}) for ask in asks]
    async with client.pipeline(transaction=False) as pipe:
        for location, skus in stock_wanted.items():
            pipe.hmget(loc_key(location), skus)
        for location, skus in supply_wanted.items():
            pipe.hmget(supply_key(location), skus)
        for location, day in days:
            pipe.hget(capacity_key(location), day.isoformat())
        replies = iter(await pipe.execute())
    stock = _fields(stock_wanted, replies)
    supply = _fields(supply_wanted, replies)
    taken = {key: raw for key, raw in zip(days, replies, strict=True) if raw is not None}
    return [_view(ask, stock, supply, taken) for ask in asks]


def _skus_by_location(
    asks: Sequence[PlanAsk], wanted: Callable[[PlanAsk], bool]
) -> dict[str, list[str]]:
    """location -> the SKUs the wanted asks read there (each once, in a stable order)."""
    by_location: dict[str, dict[str, None]] = {}
    for ask in asks:
        if not wanted(ask) or not ask.skus:
            continue
        for location in ask.locations:
            by_location.setdefault(location, {}).update(dict.fromkeys(ask.skus))
    return {location: list(skus) for location, skus in by_location.items()}


def _fields(wanted: dict[str, list[str]], replies: Iterator[Any]) -> dict[tuple[str, str], Any]:
    """(sku, location) -> raw field, for the fields present (one reply per location)."""
    found: dict[tuple[str, str], Any] = {}
    for location, skus in wanted.items():
        for sku, raw in zip(skus, next(replies), strict=True):
            if raw is not None:
                found[(sku, location)] = raw
    return found


def _view(
    ask: PlanAsk,
    stock: Mapping[tuple[str, str], Any],
    supply: Mapping[tuple[str, str], Any],
    taken: Mapping[tuple[str, date], Any],
) -> PlanView:
    units: dict[str, dict[str, int]] = {sku: {} for sku in ask.skus}
    open_supply: dict[str, dict[str, Supply]] | None = None
    if ask.with_supply:
        open_supply = {sku: {} for sku in ask.skus}
    for sku in ask.skus:
        for location in ask.locations:
            raw = stock.get((sku, location))
            if raw is not None:
                units[sku][location] = int(raw)
            if open_supply is not None and (raw := supply.get((sku, location))) is not None:
                _add_supply(open_supply, sku, location, raw)
    days_taken: dict[str, int] = {}
    for location, day in ask.days.items():
        raw = taken.get((location, day))
        if raw is not None:
            days_taken[location] = int(raw)
    return PlanView(units, open_supply, days_taken)


def _add_supply(into: dict[str, dict[str, Supply]], sku: str, location: str, raw: Any) -> None:
    try:
        into[sku][location] = parse_supply(raw)
    except (ValueError, KeyError, TypeError):
        log.error("unreadable open supply of %s at %s: %r", sku, location, raw)


async def publish_capacity(client: aioredis.Redis, taken: Mapping[tuple[str, date], int]) -> None:
    if not taken:
        return
    async with client.pipeline(transaction=False) as pipe:
        for (location, day), count in taken.items():
            pipe.hset(capacity_key(location), day.isoformat(), count)
        await pipe.execute()
