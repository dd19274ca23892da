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

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ledger.policy import ChannelPolicy, PolicyBook
from ledger.promise.supply import promisable
from ledger.state import EMPTY_POSITION, Incoming, SkuState

DAY = timedelta(days=1)
_UTC_ZONE = ZoneInfo("UTC")
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
    """Whether anything incoming has a date, or anything waits on supply: the SKU's horizon
    may not be flat (a transfer without an ETA counts on no day)."""
    return any(item.eta is not None or item.backorders for item in state.incoming.values())


def location_by_day(
    state: SkuState, location: str, policies: PolicyBook, now: datetime, days: list[date]
) -> list[int]:
    """ATP at `location` on each of `days` (ascending; may be negative when oversold)."""
    items = [item for item in state.incoming.values() if item.location == location]
    return _location_units(state, location, items, policies, now, days)


def _location_units(
    state: SkuState,
    location: str,
    items: list[Incoming],
    policies: PolicyBook,
    now: datetime,
    days: list[date],
) -> list[int]:
    record = policies.locations.get(location)
    zone = ZoneInfo(record.time_zone) if record is not None else _UTC_ZONE
    today = now.astimezone(zone).date()
    arriving: dict[date, int] = {}
    for item in items:
        net = item.qty - item.promised
        if item.eta is not None and promisable(item, now):
            day = max(today, item.eta.astimezone(zone).date())
        else:
            day, net = today, min(0, net)
        arriving[day] = arriving.get(day, 0) + net
    safety = policies.safety_units(location)
    free = state.positions.get(location, EMPTY_POSITION).free_units
    pending = sorted(arriving.items())
    total = free + sum(arriving.values())
    beyond = total if total < 0 else max(0, total - safety)
    units: list[int] = []
    index = 0
    for day in days:
        while index < len(pending) and pending[index][0] <= day:
            free += pending[index][1]
            index += 1
        units.append(free if free < 0 else max(0, free - safety))  # as position_available
    for back in range(len(units) - 1, -1, -1):  # a later shortfall is spoken for already
        beyond = min(beyond, units[back])
        units[back] = beyond
    return units


def channel_horizon(
    state: SkuState, channel: ChannelPolicy, policies: PolicyBook, now: datetime, days: int
) -> Horizon:
    return horizons(state, policies, now, days, (channel.channel,))[channel.channel]


def horizons(
    state: SkuState,
    policies: PolicyBook,
    now: datetime,
    days: int,
    channels: Iterable[str] | None = None,
) -> dict[str, Horizon]:
    """The horizons of `channels` (default: every channel whose pool has this SKU): each
    location's days computed once, however many channels share it."""
    dates = [now.date() + DAY * offset for offset in range(days)]
    first, last = dates[0], dates[-1]
    touched, incoming = _touched(state)
    names = channels if channels is not None else _channels_touching(touched, policies)
    if not expects_supply(state):
        return {name: Horizon(first, last, ()) for name in names}
    by_location: dict[str, list[int]] = {}
    found: dict[str, Horizon] = {}
    for name in names:
        policy = policies.channels[name]
        totals = [-policy.buffer_units] * days
        for location in policy.locations:
            if location not in touched:
                continue
            units = by_location.get(location)
            if units is None:
                items = incoming.get(location, [])
                units = _location_units(state, location, items, policies, now, dates)
                by_location[location] = units
            totals = [total + add for total, add in zip(totals, units, strict=True)]
        found[name] = Horizon(first, last, _steps(dates, totals, policy.allocation_cap_units))
    return found


def _touched(state: SkuState) -> tuple[set[str], dict[str, list[Incoming]]]:
    """Locations the SKU has a position or incoming at, and the incoming per location."""
    incoming: dict[str, list[Incoming]] = {}
    for item in state.incoming.values():
        incoming.setdefault(item.location, []).append(item)
    return set(state.positions) | set(incoming), incoming


def _channels_touching(touched: set[str], policies: PolicyBook) -> list[str]:
    return [
        name
        for name, policy in policies.channels.items()
        if not touched.isdisjoint(policy.locations)
    ]


def _steps(dates: list[date], totals: list[int], cap: int | None) -> Steps:
    steps: list[tuple[date, int]] = []
    for day, total in zip(dates, totals, strict=True):
        units = max(0, total if cap is None else min(cap, total))
        if not steps or steps[-1][1] != units:
            steps.append((day, units))
    return tuple(steps)
