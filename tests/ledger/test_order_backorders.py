"""Backordered orders through the saga: planned on supply, reserved as backorders, dated from
the supply's ETA; a late supply moves the promise (promise_changed), a short one re-plans the
line, an arrival makes the shipment shippable; delivery is scored against the promise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.commands import Reserve
from ledger.events import OrderCancelled
from ledger.orders.planning import dated_record, planned_record
from ledger.orders.records import (
    MarkDelivered,
    MarkShipped,
    OrderDecision,
    OrderLine,
    PlaceOrder,
    ShipTo,
    SupplyNotice,
)
from ledger.orders.saga import SagaRules, step
from processors.orders.views import change_event, order_view
from tests.ledger.test_order_promise import DC, REF, SHOPPER, the_book
from tests.ledger.test_order_saga import Run, capacity

PLACED = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
ETA = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00: ships Monday, arrives Tuesday
LATE = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # Thursday: ships Thursday, arrives Friday
BOOK = the_book(DC)
SUPPLY = {"A": {"dc-newark": ((ETA, 10),)}}


def at(seconds: float) -> datetime:
    return PLACED + timedelta(seconds=seconds)


def placed(backorder: bool = True) -> PlaceOrder:
    return PlaceOrder(
        ref=REF,
        issued_at=PLACED,
        channel="web",
        order_id="1001",
        lines=(OrderLine(sku="A", qty=3),),
        delivery=ShipTo(latitude=SHOPPER[0], longitude=SHOPPER[1]),
        max_shipments=2,
        allow_partial=False,
        allow_backorder=backorder,
        digest="d",
    )


def decided(command: Reserve | Any, when: float, **fields: Any) -> OrderDecision:
    decision = {
        "request_id": command.request_id,
        "hold_id": command.hold_id,
        "sku": command.sku,
        "command": command.type,
        "outcome": "accepted",
        "location": "dc-newark",
        "available_after": 0,
        "decided_at": at(when),
        "channel": "web",
        **fields,
    }
    return OrderDecision.model_validate({"ref": REF, "issued_at": at(when), "decision": decision})


def notice(when: float, version: int, **fields: Any) -> SupplyNotice:
    base: dict[str, Any] = {
        "ref": REF,
        "issued_at": at(when),
        "hold_id": "",
        "channel": "web",
        "sku": "A",
        "location": "dc-newark",
        "supply_order": "PO-7",
        "waiting": 3,
        "eta": ETA,
        "covered": True,
        "sku_version": version,
    }
    return SupplyNotice(**{**base, **fields})


def allocated_on_supply(run: Run) -> Reserve:
    """Sold out at the DC, 10 due Monday: the order waits on them and is allocated."""
    run(placed())
    (need,) = run.last.plans
    record = planned_record(need, run.now, BOOK, {"A": {}}, {}, PLACED, SUPPLY)
    (shipment,) = record.shipments
    assert (shipment.waits_until, shipment.ship_on, shipment.deliver_on) == (
        ETA,
        date(2026, 12, 7),
        date(2026, 12, 8),
    )
    run(record)
    (reserve,) = run.reserves()
    assert reserve.backorder and reserve.qty == 3
    run(capacity("dc-newark", True, 1).model_copy(update={"day": date(2026, 12, 2)}))
    run(decided(reserve, 2, waiting=3, eta=ETA))
    (commit,) = run.commits()
    run(decided(commit, 3))
    return reserve


def test_an_order_waits_on_supply_and_promises_from_its_eta() -> None:
    run = Run()
    reserve = allocated_on_supply(run)
    assert run.status() == "allocated"
    assert (run.now.promised, run.last.dates) == ("2026-12-08", [])
    (shipment,) = order_view(run.now)["shipments"]
    assert shipment["status"] == "backordered"
    assert shipment["waits_until"] == ETA.isoformat()
    # nothing ships before the units are there
    assert not run(MarkShipped(ref=REF, issued_at=at(4), location="dc-newark")).changed
    arrived = run(notice(5, 9, hold_id=reserve.hold_id, waiting=0))
    assert arrived.changed and run.now.holds[0].waiting == 0
    assert order_view(run.now)["shipments"][0]["status"] == "allocated"
    assert run(MarkShipped(ref=REF, issued_at=at(6), location="dc-newark")).changed


def test_a_late_supply_moves_the_promise_and_says_so() -> None:
    run = Run()
    reserve = allocated_on_supply(run)
    run(notice(4, 8, hold_id=reserve.hold_id, eta=LATE))
    (ask,) = run.last.dates
    assert ask.shipments == (("dc-newark", LATE),)
    assert run.now.promised == "2026-12-08"  # not announced until the new dates are in
    run(dated_record(ask, run.now, BOOK, at(5)))
    assert (run.now.promised, run.now.promised_before) == ("2026-12-11", "2026-12-08")
    assert change_event(run.now) == "promise_changed"
    # an older notice changes nothing
    assert not run(notice(6, 7, hold_id=reserve.hold_id, eta=ETA)).changed


def test_a_short_supply_gives_the_backorder_back_and_replans_the_line() -> None:
    run = Run()
    reserve = allocated_on_supply(run)
    moved = run(notice(4, 8, hold_id=reserve.hold_id, covered=False))
    (given_back,) = moved.outputs.facts
    assert isinstance(given_back, OrderCancelled)
    assert (given_back.hold_id, given_back.qty) == (reserve.hold_id, 3)
    (need,) = moved.outputs.plans
    assert need.lines == (OrderLine(sku="A", qty=3),) and need.fixed == ()
    assert (run.now.status, run.now.reroutes) == ("allocating", 1)


def test_a_delivery_is_scored_against_the_promise() -> None:
    run = Run()
    reserve = allocated_on_supply(run)
    run(notice(4, 9, hold_id=reserve.hold_id, waiting=0))
    run(MarkShipped(ref=REF, issued_at=at(5), location="dc-newark"))
    # reported on the day it arrived (a report must not be dated before its delivery day)
    late = run(
        MarkDelivered(
            ref=REF, issued_at=LATE, location="dc-newark", delivered_on=date(2026, 12, 10)
        )
    )
    (score,) = late.outputs.delivered
    assert (score.channel, score.location, score.on_time, score.days_late) == (
        "web",
        "dc-newark",
        False,
        2,
    )
    assert order_view(run.now)["shipments"][0]["status"] == "delivered"
    again = run(
        MarkDelivered(ref=REF, issued_at=LATE, location="dc-newark", delivered_on=date(2026, 12, 8))
    )
    assert not again.changed  # kept once


def test_an_order_without_backorders_reserves_as_before() -> None:
    stepped = step(None, placed(backorder=False), SagaRules())
    assert stepped.state is not None and not stepped.state.allow_backorder


def test_a_notice_about_another_channels_hold_of_the_same_id_is_not_the_orders() -> None:
    run = Run()
    reserve = allocated_on_supply(run)
    assert not run(notice(4, 9, hold_id=reserve.hold_id, channel="market", covered=False)).changed
    assert run.now.status == "allocated"
