"""Availability by date (available-to-promise): what a channel can promise on each day ahead.

Per location, on local day D (its own time zone):

    free(D) = free now + sum(qty - promised of each supply expected there by D)
    avail(D) = free(D) if < 0, else max(0, free(D) - safety stock)       (as today's figure)
    ATP(loc, D) = min(avail(d) for d >= D)       (a later over-promise is already spoken for)

Supply counts from the local day of its ETA; supply overdue past `OVERDUE_GRACE`, or
without an ETA, counts only what was promised beyond its units. A channel's ATP on day D
is its pool's sum less its buffer, capped, never below 0, like today's figure.

A horizon is a channel's ATP over `days` days from the UTC day of `now`, written as the
steps where it changes. With nothing expected, every day is today's figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ledger.availability import position_available
from ledger.policy import ChannelPolicy, PolicyBook
from ledger.promise.supply import promisable
from ledger.state import EMPTY_POSITION, Position, SkuState

DAY = timedelta(days=1)
Steps = tuple[tuple[date, int], ...]


class Horizon(NamedTuple):
    """A channel's ATP from `first` to `last` (inclusive): `steps` (day, units) where it
    changes, the first on `first`; an empty `steps`: nothing is expected (today's figure)."""

    first: date
    last: date
    steps: Steps

    def on(self, day: date) -> int | None:
        """Units on `day` (the first day's before it, the last day's after); None if flat."""
        units = None
        for start, value in self.steps:
            if start > day and units is not None:
                break
            units = value
        return units


def expects_supply(state: SkuState) -> bool:
    """Whether the SKU has anything incoming (or waiting on it): its horizon is not flat."""
    return bool(state.incoming)


def location_by_day(
    state: SkuState, location: str, policies: PolicyBook, now: datetime, days: list[date]
) -> list[int]:
    """ATP at `location` on each of `days` (ascending; may be negative when oversold)."""
    record = policies.locations.get(location)
    zone = ZoneInfo(record.time_zone if record is not None else "UTC")
    today = now.astimezone(zone).date()
    free_now = state.positions.get(location, EMPTY_POSITION).free_units
    arriving: dict[date, int] = {}
    for item in state.incoming.values():
        if item.location != location:
            continue
        net = item.qty - item.promised
        if item.eta is not None and promisable(item, now):
            day = max(today, item.eta.astimezone(zone).date())
        else:
            day, net = today, min(0, net)
        arriving[day] = arriving.get(day, 0) + net
    safety = policies.safety_units(location)
    beyond = _available(free_now + sum(arriving.values()), safety)
    units: list[int] = []
    for day in days:
        cumulative = free_now + sum(n for d, n in arriving.items() if d <= day)
        units.append(_available(cumulative, safety))
    for index in range(len(units) - 1, -1, -1):  # a later shortfall is spoken for already
        beyond = min(beyond, units[index])
        units[index] = beyond
    return units


def _available(free: int, safety: int) -> int:
    return position_available(Position(on_hand=free), safety)


def channel_horizon(
    state: SkuState, channel: ChannelPolicy, policies: PolicyBook, now: datetime, days: int
) -> Horizon:
    first = now.date()
    dates = [first + DAY * offset for offset in range(days)]
    last = dates[-1]
    if not expects_supply(state):
        return Horizon(first, last, ())
    totals = [-channel.buffer_units] * days
    for location in channel.locations:
        if location in state.positions or state.incoming_at(location):
            for index, units in enumerate(location_by_day(state, location, policies, now, dates)):
                totals[index] += units
    cap = channel.allocation_cap_units
    steps: list[tuple[date, int]] = []
    for day, total in zip(dates, totals, strict=True):
        units = max(0, total if cap is None else min(cap, total))
        if not steps or steps[-1][1] != units:
            steps.append((day, units))
    return Horizon(first, last, tuple(steps))


def horizons(
    state: SkuState, policies: PolicyBook, now: datetime, days: int
) -> Mapping[str, Horizon]:
    """Every channel's horizon of this SKU (channels with nothing of it: none)."""
    touched = set(state.positions) | {item.location for item in state.incoming.values()}
    return {
        name: channel_horizon(state, policy, policies, now, days)
        for name, policy in policies.channels.items()
        if not touched.isdisjoint(policy.locations)
    }
