"""Promise dates on orders: each planned shipment's ship, delivery and pickup-ready dates from
the location's calendar and the channel's bands; `earliest_delivery`; the order's promise as
announced, and a changed promise after a re-route."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.orders import ids
from ledger.orders.planning import plan_request, planned_record
from ledger.orders.records import (
    MarkShipped,
    OrderLine,
    PickUp,
    PlaceOrder,
    RejectPick,
    ShipTo,
)
from ledger.orders.saga import NeedPlan, SagaRules, step
from ledger.orders.state import OrderState
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook, apply_policy
from ledger.sourcing import plan
from processors.orders.views import change_event, order_view
from tests.ledger.test_order_saga import Run, answer, capacity

# Wednesday 2026-12-02, 13:59 and 14:01 in New York (EST, UTC-5)
BEFORE_CUTOFF = datetime(2026, 12, 2, 18, 59, tzinfo=UTC)
AFTER_CUTOFF = datetime(2026, 12, 2, 19, 1, tzinfo=UTC)
NEWARK = (40.7357, -74.1724)
SHOPPER = (40.75, -73.99)  # Manhattan: 16 km from Newark, within the 50 km band (1 day)
REF = ids.order_ref("web", "1001")


def location(name: str, point: tuple[float, float], **fields: Any) -> LocationPolicy:
    return LocationPolicy(
        location=name,
        latitude=point[0],
        longitude=point[1],
        time_zone="America/New_York",
        version=1,
        updated_at=BEFORE_CUTOFF,
        **fields,
    )


def the_book(*records: LocationPolicy, **channel: Any) -> PolicyBook:
    fields: dict[str, Any] = {
        "channel": "web",
        "locations": tuple(r.location for r in records),
        "version": 1,
        "updated_at": BEFORE_CUTOFF,
        **channel,
    }
    book = apply_policy(PolicyBook(), ChannelPolicy(**fields))
    for record in records:
        book = apply_policy(book, record)
    return book


DC = location(
    "dc-newark",
    NEWARK,
    cutoff_local="14:00",
    processing_minutes=60,
    open_days=("mon", "tue", "wed", "thu", "fri"),
)
STORE = location(
    "store-soho",
    (40.7233, -74.0030),
    capabilities=("ship", "pickup"),
    location_type="store",
    processing_minutes=90,
    cutoff_local="18:00",
)


def order(
    at: datetime, delivery: Any = None, *lines: tuple[str, int]
) -> tuple[OrderState, NeedPlan]:
    placed = PlaceOrder(
        ref=REF,
        issued_at=at,
        channel="web",
        order_id="1001",
        lines=tuple(OrderLine(sku=s, qty=q) for s, q in (lines or (("A", 1),))),
        delivery=delivery or ShipTo(latitude=SHOPPER[0], longitude=SHOPPER[1]),
        max_shipments=2,
        allow_partial=False,
        digest="d",
    )
    stepped = step(None, placed, SagaRules())
    assert stepped.state is not None
    return stepped.state, stepped.outputs.plans[0]


def dates_of(record: Any) -> list[tuple[str, Any, Any, Any]]:
    return [(s.location, s.ship_on, s.deliver_on, s.ready_at) for s in record.shipments]


def test_an_order_before_the_cutoff_ships_today_and_arrives_tomorrow() -> None:
    book = the_book(DC)
    state, need = order(BEFORE_CUTOFF)
    record = planned_record(need, state, book, {"A": {"dc-newark": 5}}, {}, BEFORE_CUTOFF)
    assert dates_of(record) == [("dc-newark", date(2026, 12, 2), date(2026, 12, 3), None)]
    state, need = order(AFTER_CUTOFF)
    record = planned_record(need, state, book, {"A": {"dc-newark": 5}}, {}, AFTER_CUTOFF)
    assert dates_of(record) == [("dc-newark", date(2026, 12, 3), date(2026, 12, 4), None)]


def test_friday_after_the_cutoff_ships_monday_and_arrives_tuesday() -> None:
    friday = datetime(2026, 12, 4, 19, 1, tzinfo=UTC)
    state, need = order(friday)
    record = planned_record(need, state, the_book(DC), {"A": {"dc-newark": 5}}, {}, friday)
    assert dates_of(record) == [("dc-newark", date(2026, 12, 7), date(2026, 12, 8), None)]


def test_a_far_shopper_waits_the_transit_days_of_the_band() -> None:
    book = the_book(DC)
    state, need = order(BEFORE_CUTOFF, ShipTo(latitude=41.88, longitude=-87.63))  # Chicago
    record = planned_record(need, state, book, {"A": {"dc-newark": 5}}, {}, BEFORE_CUTOFF)
    # 1,150 km is past the 1,000 km band: the last band, 5 delivery days (Sunday skipped)
    assert dates_of(record)[0][1:3] == (date(2026, 12, 2), date(2026, 12, 8))


def test_a_pickup_is_ready_after_processing_at_the_store() -> None:
    book = the_book(STORE, pickup_locations=("store-soho",))
    state, need = order(BEFORE_CUTOFF, PickUp(location="store-soho"))
    record = planned_record(need, state, book, {"A": {"store-soho": 2}}, {}, BEFORE_CUTOFF)
    ready = BEFORE_CUTOFF + timedelta(minutes=90)
    assert dates_of(record) == [("store-soho", date(2026, 12, 2), None, ready)]


def test_ship_to_store_is_ready_once_the_store_processed_the_delivery() -> None:
    rules = ("exclude_over_capacity", "fewest_shipments")  # ship-to-store allowed
    book = the_book(DC, STORE, pickup_locations=("store-soho",), sourcing_rules=rules)
    state, need = order(BEFORE_CUTOFF, PickUp(location="store-soho"))
    record = planned_record(need, state, book, {"A": {"dc-newark": 2}}, {}, BEFORE_CUTOFF)
    # ships Wednesday, delivered to the store Thursday, ready 01:30 local (90 min from 00:00)
    ready = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
    assert dates_of(record) == [("dc-newark", date(2026, 12, 2), date(2026, 12, 3), ready)]


def test_earliest_delivery_prefers_the_location_that_still_makes_todays_cutoff() -> None:
    late_store = location("store-near", SHOPPER, cutoff_local="12:00")  # cut-off passed
    book = the_book(
        late_store, DC, sourcing_rules=("earliest_delivery", "closest", "location_priority")
    )
    state, need = order(BEFORE_CUTOFF)
    stock = {"A": {"store-near": 3, "dc-newark": 3}}
    request = plan_request(need, state, book, stock, {}, BEFORE_CUTOFF)
    assert request.sites["store-near"].arrives_on == date(2026, 12, 4)
    assert request.sites["dc-newark"].arrives_on == date(2026, 12, 3)
    chosen = plan(request)
    assert [s.location for s in chosen.shipments] == ["dc-newark"]
    by_distance = plan_request(need, state, the_book(late_store, DC), stock, {}, BEFORE_CUTOFF)
    assert [s.location for s in plan(by_distance).shipments] == ["store-near"]


def test_a_reroute_to_a_later_location_announces_a_changed_promise() -> None:
    book = the_book(DC, location("dc-far", (41.88, -87.63)))
    run = Run()
    first_state, need = order(BEFORE_CUTOFF)
    run.state = first_state
    stock = {"A": {"dc-newark": 1, "dc-far": 1}}
    run(planned_record(need, first_state, book, stock, {}, BEFORE_CUTOFF))
    (reserve,) = run.reserves()
    run(capacity_on(reserve.location or "", date(2026, 12, 2), 1))
    run(answer(reserve, True, 2))
    (commit,) = run.commits()
    run(answer(commit, True, 3))
    assert run.now.status == "allocated"
    assert (run.now.promised, run.now.promised_before) == ("2026-12-03", None)
    assert change_event(run.now) == "changed"
    rerouted = run(RejectPick(ref=REF, issued_at=at(4), location="dc-newark", reason="damaged"))
    (need2,) = rerouted.outputs.plans
    run(planned_record(need2, run.now, book, stock, {}, at(5)))
    (reserve2,) = run.reserves()
    run(capacity_on("dc-far", date(2026, 12, 2), 6))
    run(answer(reserve2, True, 7))
    (commit2,) = run.commits()
    run(answer(commit2, True, 8))
    assert run.now.status == "allocated"
    assert (run.now.promised, run.now.promised_before) == ("2026-12-08", "2026-12-03")
    assert run.now.promise_version == run.now.version
    assert change_event(run.now) == "promise_changed"
    view = order_view(run.now)
    assert view["promised"] == "2026-12-08" and view["promised_before"] == "2026-12-03"
    far = next(s for s in view["shipments"] if s["location"] == "dc-far")
    assert (far["ship_on"], far["deliver_on"]) == ("2026-12-02", "2026-12-08")
    shipped = run(MarkShipped(ref=REF, issued_at=at(9), location="dc-far")).state
    assert shipped is not None and change_event(shipped) == "changed"


def at(seconds: float) -> datetime:
    return BEFORE_CUTOFF + timedelta(seconds=seconds)


def capacity_on(location: str, day: date, when: float) -> Any:
    answered = capacity(location, True, when)
    return answered.model_copy(update={"ref": REF, "day": day, "issued_at": at(when)})
