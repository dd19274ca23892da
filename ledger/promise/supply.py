"""Which incoming supply a backorder may wait on: expected at its location, with an ETA not
long past, and units nothing else waits on. Shared by `ledger.decide` (which supply a hold
takes) and availability by date (which supply counts), so both count the same units."""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger import limits
from ledger.state import Incoming, SkuState

# A receipt a day past its ETA is not promised against any more (nor counted by date) until
# it arrives or its supplier gives a new ETA (`supply_expected` again).
OVERDUE_GRACE = timedelta(days=1)


def promisable(item: Incoming, now: datetime) -> bool:
    """Whether `item` may still be promised against at `now` (it has a date, not long past)."""
    return item.eta is not None and item.eta + OVERDUE_GRACE >= now


def backorder_count(state: SkuState) -> int:
    return sum(len(item.backorders) for item in state.incoming.values())


def supply_for(state: SkuState, location: str, units: int, now: datetime) -> str | None:
    """The incoming key of the earliest supply at `location` with `units` not yet promised
    (ties: the key), or None."""
    if backorder_count(state) >= limits.BACKORDERS_PER_SKU_MAX:
        return None
    fits = [
        (item.eta, key)
        for key, item in state.incoming.items()
        if item.eta is not None
        and item.location == location
        and promisable(item, now)
        and item.unpromised >= units
    ]
    return min(fits)[1] if fits else None


def open_supply(state: SkuState, location: str, now: datetime) -> tuple[tuple[datetime, int], ...]:
    """What a backorder at `location` could still wait on: (ETA, units not yet promised) of
    each promisable supply with some, earliest first (what the order processor plans with)."""
    return tuple(
        sorted(
            (item.eta, item.unpromised)
            for item in state.incoming.values()
            if item.eta is not None
            and item.location == location
            and item.unpromised > 0
            and promisable(item, now)
        )
    )
