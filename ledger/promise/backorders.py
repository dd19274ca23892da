"""What each hold waiting on supply can expect, and which of those changed between two states
of a SKU: what the worker tells the holds' orders (a late, short or cancelled receipt, or
units that arrived). Pure.

A supply covers its backorders oldest first: a hold is covered while the units waiting before
it and its own fit in what is still expected (`Incoming.qty`); after a short or cancelled
supply the newest are uncovered, and must move.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from ledger.state import SkuState


class Waiting(NamedTuple):
    """One hold's units waiting on one supply."""

    location: str
    supply_order: str  # the purchase order (or transfer order) it waits on
    units: int  # 0: nothing waits any more (arrived, or the hold was given back)
    eta: datetime | None
    covered: bool


def waiting_holds(state: SkuState) -> dict[str, Waiting]:
    """Every hold with units waiting on supply, by hold id."""
    found: dict[str, Waiting] = {}
    for item in state.incoming.values():
        before = 0
        for hold_id, units in item.backorders.items():
            before += units
            covered = before <= item.qty
            found[hold_id] = Waiting(item.location, item.order_id, units, item.eta, covered)
    return found


def changed_waiting(before: SkuState | None, after: SkuState) -> dict[str, Waiting]:
    """The holds whose wait changed from `before` (every waiting hold without it); a hold no
    longer waiting is reported with 0 units, covered."""
    now = waiting_holds(after)
    if before is None:
        return now
    was = waiting_holds(before)
    changed = {hold: wait for hold, wait in now.items() if was.get(hold) != wait}
    for hold, wait in was.items():
        if hold not in now:
            changed[hold] = wait._replace(units=0, covered=True)
    return changed
