"""The saga's promise steps: the order's promise as announced (and changed), new dates when
a hold's supply moved, the worker's supply notices, and deliveries scored against the
promise (docs/PROMISE.md). Pure, like `ledger.orders.saga`, which calls them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.orders.records import Dated, MarkDelivered, SupplyNotice
from ledger.orders.state import HOLDING, OrderState, ShipmentPromise, replace_holds, stamp


@dataclass(frozen=True)
class NeedDates:
    """Compute the dates of the shipments at these locations, counted from the ETA of the
    supply their units wait on (asked at order version `step`)."""

    ref: str
    step: int
    at: datetime
    shipments: tuple[tuple[str, datetime], ...]  # (location, ETA)


@dataclass(frozen=True)
class Delivery:
    """A shipment reported delivered: on time or not against its promise (the score)."""

    channel: str
    location: str
    on_time: bool
    days_late: int


def announce(state: OrderState) -> OrderState:
    """An allocated order's promise, kept as announced; a change to it after that is a
    changed promise (`promised_before`, `promise_version`: the channel's stream says so)."""
    if state.status not in ("allocated", "partially_allocated") or state.stale_dates():
        return state  # new dates are on their way: announced once they are in
    current = state.promise()
    if current == state.promised:
        return state
    if state.promised is None:
        return state.model_copy(update={"promised": current})
    return state.model_copy(
        update={
            "promised": current,
            "promised_before": state.promised,
            "promise_version": state.version,
        }
    )


def delivered(state: OrderState, record: MarkDelivered, scores: list[Delivery]) -> OrderState:
    """A shipped shipment reached the shopper: kept once, scored against its promise."""
    if state.shipments.get(record.location) != "shipped" or record.location in state.delivered:
        return state
    promised = state.promised_day(record.location)
    if promised is not None:
        late = (record.delivered_on - promised).days
        scores.append(Delivery(state.channel, record.location, late <= 0, max(0, late)))
    delivered = {**state.delivered, record.location: record.delivered_on}
    return stamp(state, record.issued_at, delivered=delivered)


def supply_noticed(state: OrderState, record: SupplyNotice) -> OrderState:
    """The worker's latest word on a hold waiting on supply (older words are ignored)."""
    hold = state.find_hold(record.hold_id)
    if record.channel != state.channel or hold is None:
        return state  # another channel's hold of the same id is not the order's
    if hold.status not in HOLDING or record.sku_version <= hold.notice_version:
        return state
    update = {
        "waiting": record.waiting,
        "eta": record.eta if record.waiting else hold.eta,
        "covered": record.covered,
        "notice_version": record.sku_version,
    }
    return stamp(
        state,
        record.issued_at,
        holds=replace_holds(state.holds, {hold.hold_id: hold.model_copy(update=update)}),
    )


def ask_dates(state: OrderState, at: datetime, asks: list[NeedDates]) -> OrderState:
    """Ask for new dates when units wait on a supply ETA the promise did not count from."""
    if state.phase != "settled" or state.dates_asked == state.version:
        return state
    stale = state.stale_dates()
    if not stale:
        return state
    shipments = tuple((loc, eta) for loc in stale if (eta := state.waits_until(loc)))
    asks.append(NeedDates(state.ref, state.version, at, shipments))
    return state.model_copy(update={"dates_asked": state.version})


def dated(state: OrderState, record: Dated) -> OrderState:
    """The new dates of the shipments asked about (an answer to an older ask changes nothing)."""
    if record.step != state.dates_asked:
        return state
    promises = dict(state.promises)
    for shipment in record.shipments:
        promises[shipment.location] = ShipmentPromise(
            ship_on=shipment.ship_on,
            deliver_on=shipment.deliver_on,
            ready_at=shipment.ready_at,
            waits_until=shipment.waits_until,
        )
    return stamp(state, record.issued_at, promises=promises)
