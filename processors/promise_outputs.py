"""What a batch tells beyond today's figures, for SKUs with supply incoming: availability by
date per channel, open supply per location (for orders that may wait on it), and notices to
the orders whose holds wait on supply that moved (docs/PROMISE.md). A SKU with nothing
incoming costs one check of its incoming entries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from base.horizons import horizon_json, supply_json
from base.redis_keys import FigureVersion
from ledger.orders.ids import ref_of_hold
from ledger.orders.records import SupplyNotice
from ledger.policy import PolicyBook
from ledger.promise.atp import Horizon, expects_supply, horizons
from ledger.promise.backorders import changed_waiting
from ledger.promise.supply import open_supply
from ledger.state import SkuState, channel_of_key, hold_id_of
from processors.publisher import Figure


def horizon_figures(
    before: SkuState | None,
    after: SkuState,
    policies: PolicyBook,
    policy_version: int,
    ingested_ms: int,
    days: int,
) -> list[Figure]:
    """The availability-by-date figures of a changed SKU: of each channel whose pool has a
    location whose stock or supply moved since `before` (every channel with the SKU without
    one, or on a new day). Only a SKU with dated supply incoming, now or before, has any:
    the rest keep the flat horizon that says "today's figure" (base.horizons), so the
    batch pays nothing for them. Not diffed against `before`'s horizons (that would double
    the cost); the publisher's compare-and-set keeps Redis right."""
    if not expects_supply(after) and (before is None or not expects_supply(before)):
        return []
    now = after.clock or datetime.now(UTC)
    channels = _moved_channels(before, after, policies, now)
    new = horizons(after, policies, now, days, channels)
    version = FigureVersion(after.version, policy_version)
    return [
        Figure("atp", channel, after.sku, _first_units(h), version, ingested_ms, horizon_json(h))
        for channel, h in new.items()
    ]


def _moved_channels(
    before: SkuState | None, after: SkuState, policies: PolicyBook, now: datetime
) -> list[str] | None:
    """Channels whose pool has a location whose position or incoming changed (None: every
    channel with the SKU, for a replay or a new day)."""
    if before is None or before.clock is None or before.clock.date() != now.date():
        return None
    moved = {loc for loc, pos in after.positions.items() if before.positions.get(loc) != pos}
    for key, item in after.incoming.items():
        if before.incoming.get(key) != item:
            moved.add(item.location)
    moved.update(
        item.location for key, item in before.incoming.items() if key not in after.incoming
    )
    return [name for name, p in policies.channels.items() if not moved.isdisjoint(p.locations)]


def supply_figures(
    before: SkuState | None, after: SkuState, policy_version: int, ingested_ms: int
) -> list[Figure]:
    """The open supply (what a backorder may still wait on) at each location whose incoming
    changed since `before` (every location with incoming, without one)."""
    if not after.incoming and (before is None or not before.incoming):
        return []
    now = after.clock or datetime.now(UTC)
    version = FigureVersion(after.version, policy_version)
    figures = []
    for location in _incoming_moved(before, after):
        supply = open_supply(after, location, now)
        units = sum(units for _, units in supply)
        detail = supply_json(supply)
        figures.append(Figure("supply", location, after.sku, units, version, ingested_ms, detail))
    return figures


def _incoming_moved(before: SkuState | None, after: SkuState) -> set[str]:
    if before is None:
        return {item.location for item in after.incoming.values()}
    moved = {
        item.location for key, item in after.incoming.items() if before.incoming.get(key) != item
    }
    moved.update(
        item.location for key, item in before.incoming.items() if key not in after.incoming
    )
    return moved


def supply_notices(before: SkuState | None, after: SkuState) -> list[SupplyNotice]:
    """A notice to each order whose hold's wait on supply changed (all of them without
    `before`, as on a replay: the orders keep only notices newer than the last they saw)."""
    if not _has_backorders(after) and (before is None or not _has_backorders(before)):
        return []
    at = after.clock or datetime.now(UTC)
    notices = []
    for key, wait in changed_waiting(before, after).items():
        channel, hold_id = channel_of_key(key), hold_id_of(key)
        ref = ref_of_hold(hold_id)
        if ref is None:
            continue  # a channel's own backorder hold: nobody to tell
        notices.append(
            SupplyNotice(
                ref=ref,
                issued_at=at,
                hold_id=hold_id,
                channel=channel,
                sku=after.sku,
                location=wait.location,
                supply_order=wait.supply_order,
                waiting=wait.units,
                eta=wait.eta,
                covered=wait.covered,
                sku_version=after.version,
            )
        )
    return notices


def _has_backorders(state: SkuState) -> bool:
    return any(item.backorders for item in state.incoming.values())


def _first_units(horizon: Horizon) -> int:
    return horizon.steps[0][1] if horizon.steps else 0
