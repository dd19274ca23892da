"""Availability: per location and per channel, and exactly which figures an event changed.

    free(loc)      = on_hand - committed - reserved - unsellable      (< 0: oversold)
    available(loc) = free                         if free < 0   (the deficit is not hidden)
                   = max(0, free - safety_stock)  otherwise     (safety only holds back units)
    ATS(channel)   = max(0, min(cap, sum(available(loc) for loc in channel.locations) - buffer))

Safety stock can only hold back units that exist, so an empty store's safety stock never
eats another store's units; an oversold location's deficit does reduce the channel's ATS.
Published figures are never negative.

    stranded(channel) = sum(max(0, available(loc)) for loc outside channel.locations)
                        if ATS(channel) == 0 (and its cap is not 0), else 0

Stranded stock (a KPI, docs/KPIS.md): the channel shows 0 while locations outside its pool
hold sellable units. A channel capped at 0 is switched off, never stranded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from ledger.policy import ChannelPolicy, PolicyBook
from ledger.state import EMPTY_POSITION, Position, SkuState


class Figures(NamedTuple):
    """Publishable figures for one SKU: channel -> ATS units, location -> units (all >= 0)."""

    channels: Mapping[str, int]
    locations: Mapping[str, int]

    def is_empty(self) -> bool:
        return not self.channels and not self.locations


class Affected(NamedTuple):
    """Channels and locations whose figures a policy change may have changed."""

    channels: frozenset[str]
    locations: frozenset[str]


def location_available(state: SkuState, location: str, policies: PolicyBook) -> int:
    """Raw units a hold may take at `location`; negative only when oversold."""
    position = state.positions.get(location, EMPTY_POSITION)
    return position_available(position, policies.safety_units(location))


def position_available(position: Position, safety_units: int) -> int:
    free = position.free_units
    if free < 0:
        return free
    return max(0, free - safety_units)


def channel_ats(state: SkuState, channel_policy: ChannelPolicy, policies: PolicyBook) -> int:
    total = sum(location_available(state, loc, policies) for loc in channel_policy.locations)
    return _ats(total, channel_policy)


def pool_available(
    state: SkuState, channel_policy: ChannelPolicy, policies: PolicyBook
) -> dict[str, int]:
    """`location_available` of each location the channel sells from, in its priority order."""
    return {loc: location_available(state, loc, policies) for loc in channel_policy.locations}


def pool_ats(pool: Mapping[str, int], channel_policy: ChannelPolicy) -> int:
    """`channel_ats` from the channel's `pool_available` (each location's asked once)."""
    return _ats(sum(pool.values()), channel_policy)


def _ats(pool_units: int, channel_policy: ChannelPolicy) -> int:
    total = pool_units - channel_policy.buffer_units
    cap = channel_policy.allocation_cap_units
    if cap is not None:
        total = min(total, cap)
    return max(0, total)


def stranded_units(state: SkuState, channel_policy: ChannelPolicy, policies: PolicyBook) -> int:
    """Sellable units outside the channel's pool while the channel shows 0; else 0."""
    return stranded_by_channel(state, policies, (channel_policy,)).get(channel_policy.channel, 0)


def stranded_by_channel(
    state: SkuState, policies: PolicyBook, channels: Iterable[ChannelPolicy] | None = None
) -> dict[str, int]:
    """The channels (of `channels`, default the whole book) for which this SKU is stranded,
    with the stranded units; channels with none are left out.

    The worker calls this for every SKU a batch changes, so each location's availability is
    computed once, inline (as `position_available`), and a channel's pool is summed only up
    to knowing its ATS is above 0 (cap > 0: ATS > 0 exactly when pool - buffer > 0).
    """
    safety = policies.locations
    available: dict[str, int] = {}
    sellable = False
    for location, (on_hand, committed, reserved, damaged, inspection) in state.positions.items():
        free = on_hand - committed - reserved - damaged - inspection
        if free > 0:
            record = safety.get(location)
            if record is not None:
                free = max(0, free - record.safety_stock_units)
            sellable = sellable or free > 0
        available[location] = free
    if not sellable:
        return {}
    stranded: dict[str, int] = {}
    for policy in policies.channels.values() if channels is None else channels:
        if policy.allocation_cap_units == 0:
            continue
        pool = policy.locations
        if sum(available.get(location, 0) for location in pool) > policy.buffer_units:
            continue  # ATS > 0
        outside = sum(
            units for location, units in available.items() if units > 0 and location not in pool
        )
        if outside:
            stranded[policy.channel] = outside
    return stranded


def figures(state: SkuState, policies: PolicyBook) -> Figures:
    """Every figure of this SKU: all channels in the book, all locations it has a position at."""
    return _figures(state, policies, policies.channels.keys(), state.positions.keys())


def changed_figures(before: SkuState, after: SkuState, policies: PolicyBook) -> Figures:
    """Only the figures that differ between `before` and `after` (what to publish)."""
    moved = {
        loc
        for loc, pos in after.positions.items()
        if before.positions.get(loc, EMPTY_POSITION) != pos
    }
    if not moved:
        return Figures({}, {})
    channels = [
        name for name, policy in policies.channels.items() if not moved.isdisjoint(policy.locations)
    ]
    old = _figures(before, policies, channels, moved)
    new = _figures(after, policies, channels, moved)
    return _diff(old, new)


def policy_affected(old: PolicyBook, new: PolicyBook) -> Affected:
    """Which channel and location figures must be recomputed after a policy change."""
    channels = {name for name, p in new.channels.items() if old.channels.get(name) != p}
    locations = {
        name
        for name in old.locations.keys() | new.locations.keys()
        if old.safety_units(name) != new.safety_units(name)
    }
    for name, policy in new.channels.items():
        if not locations.isdisjoint(policy.locations):
            channels.add(name)
    return Affected(frozenset(channels), frozenset(locations))


def policy_changed_figures(state: SkuState, old: PolicyBook, new: PolicyBook) -> Figures:
    """The figures of one SKU that a policy change altered (new channels always included)."""
    affected = policy_affected(old, new)
    locations = affected.locations & state.positions.keys()
    before_channels = [c for c in affected.channels if c in old.channels]
    before = _figures(state, old, before_channels, locations)
    after = _figures(state, new, affected.channels, locations)
    return _diff(before, after)


def _figures(
    state: SkuState, policies: PolicyBook, channels: Iterable[str], locations: Iterable[str]
) -> Figures:
    by_channel = {c: channel_ats(state, policies.channels[c], policies) for c in channels}
    by_location = {loc: max(0, location_available(state, loc, policies)) for loc in locations}
    return Figures(by_channel, by_location)


def _diff(old: Figures, new: Figures) -> Figures:
    channels = {k: v for k, v in new.channels.items() if old.channels.get(k) != v}
    locations = {k: v for k, v in new.locations.items() if old.locations.get(k) != v}
    return Figures(channels, locations)
