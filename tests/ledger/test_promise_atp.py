"""Availability by date and backorders, story by story: receipts arriving, late, short and
cancelled; holds waiting on supply; what a receipt does with them; bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from ledger.availability import location_available
from ledger.codec import decode_event
from ledger.commands import Decision
from ledger.decide import decide
from ledger.errors import DecodeError
from ledger.fold import fold
from ledger.policy import LocationPolicy, PolicyBook
from ledger.promise.atp import Horizon, channel_horizon, horizons
from ledger.state import SkuState
from tests.support.ledger_builders import (
    SKU,
    T0,
    book,
    channel,
    commit,
    expire,
    fact,
    release,
    reserve,
    safety,
)

WEB = book(channel("web", "DC", "S1"))
DAY0 = T0.date()  # 2025-03-01


def day(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def days(offset: int) -> float:
    return offset * 86_400.0


def expected(qty: int, eta_days: float, order: str = "PO-1", t: float = 0, **f: Any) -> Any:
    eta = f.pop("eta", T0 + timedelta(days=eta_days))
    location = f.pop("location", "DC")
    return fact("supply_expected", location, qty, t=t, order_id=order, eta=eta, **f)


def horizon(state: SkuState, policies: PolicyBook = WEB, now: datetime = T0) -> Horizon:
    return channel_horizon(state, policies.channels["web"], policies, now, 15)


def run(state: SkuState, command: Any, policies: PolicyBook = WEB) -> tuple[SkuState, Decision]:
    decided = decide(state, command, policies)
    assert decided.decision is not None
    return decided.state, decided.decision


def back(hold: str, qty: int, t: float = 0, location: str = "DC") -> Any:
    return reserve(hold, "web", qty, t=t, location=location, backorder=True)


# --- availability by date --------------------------------------------------------------------


def test_sold_out_with_a_receipt_in_three_days_shows_that_date() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    seen = horizon(state)
    assert seen.steps == ((day(0), 0), (day(3), 10))
    assert (seen.on(day(2)), seen.on(day(3)), seen.on(day(30))) == (0, 10, 10)
    assert (seen.first, seen.last) == (day(0), day(14))


def test_nothing_expected_is_a_flat_horizon() -> None:
    state = fold([fact("received", "DC", 4)], SkuState.empty(SKU))
    assert horizon(state).steps == ()
    assert horizon(state).on(day(3)) is None


def test_a_receipt_arriving_moves_units_from_incoming_to_today() -> None:
    state = fold([fact("received", "DC", 2), expected(10, 3)], SkuState.empty(SKU))
    assert horizon(state).steps == ((day(0), 2), (day(3), 12))
    arrived = fold([fact("received", "DC", 10, order_id="PO-1")], state)
    assert arrived.incoming == {}
    assert horizon(arrived).steps == ()
    assert location_available(arrived, "DC", WEB) == 12


def test_a_receipt_arriving_in_part_keeps_the_rest_expected_on_its_day() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    part = fold([fact("received", "DC", 6, order_id="PO-1")], state)
    assert part.incoming["supply:DC:PO-1"].qty == 4
    assert horizon(part).steps == ((day(0), 6), (day(3), 10))


def test_a_late_receipt_moves_its_step_and_keeps_its_units() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    late = fold([expected(10, 6, t=60)], state)
    assert horizon(late).steps == ((day(0), 0), (day(6), 10))


def test_a_short_receipt_lowers_the_step_and_a_cancelled_one_removes_it() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    short = fold([fact("supply_cancelled", "DC", 4, order_id="PO-1")], state)
    assert horizon(short).steps == ((day(0), 0), (day(3), 6))
    gone = fold([fact("supply_cancelled", "DC", 6, order_id="PO-1")], short)
    assert gone.incoming == {} and horizon(gone).steps == ()


def test_overdue_supply_is_not_counted() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    assert horizon(state, now=T0 + timedelta(days=4)).steps == ((day(4), 10),)  # a day late
    overdue = horizon(state, now=T0 + timedelta(days=4, seconds=1))
    assert overdue.steps == ((day(4), 0),)


def test_safety_stock_holds_back_future_units_too() -> None:
    policies = book(channel("web", "DC"), safety("DC", 3))
    state = fold([expected(10, 2)], SkuState.empty(SKU))
    assert horizon(state, policies).steps == ((day(0), 0), (day(2), 7))


def test_buffer_and_cap_apply_on_every_day() -> None:
    policies = book(channel("web", "DC", "S1", buffer_units=2, allocation_cap_units=9))
    state = fold([fact("received", "S1", 3), expected(10, 2)], SkuState.empty(SKU))
    assert horizon(state, policies).steps == ((day(0), 1), (day(2), 9))


def test_an_eta_counts_on_the_local_day_of_its_location() -> None:
    eta = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)  # Mon 18:30 in New York, Tue 08:30 in Tokyo
    tokyo = LocationPolicy(location="DC", time_zone="Asia/Tokyo", version=1, updated_at=T0)
    new_york = tokyo.model_copy(update={"time_zone": "America/New_York"})
    state = fold([expected(5, 0, eta=eta)], SkuState.empty(SKU))
    assert horizon(state, book(channel("web", "DC"), tokyo)).steps[1] == (day(3), 5)
    assert horizon(state, book(channel("web", "DC"), new_york)).steps[1] == (day(2), 5)


def test_horizons_cover_only_channels_that_touch_the_sku() -> None:
    policies = book(channel("web", "DC"), channel("pos", "S9"))
    state = fold([expected(4, 1)], SkuState.empty(SKU))
    assert set(horizons(state, policies, T0, 15)) == {"web"}


# --- backorders ------------------------------------------------------------------------------


def test_a_backorder_takes_what_is_here_and_waits_on_the_earliest_supply_for_the_rest() -> None:
    state = fold(
        [fact("received", "DC", 2), expected(10, 5, "PO-LATE"), expected(6, 3, "PO-SOON")],
        SkuState.empty(SKU),
    )
    state, decision = run(state, back("b1", 5))
    assert (decision.outcome, decision.waiting, decision.eta) == ("accepted", 3, T0 + timedelta(3))
    assert state.position("DC").reserved == 2
    assert state.incoming["supply:DC:PO-SOON"].backorders == {"web b1": 3}
    assert horizon(state).steps == ((day(0), 0), (day(3), 3), (day(5), 13))


def test_a_backorder_never_takes_more_than_a_supply_has_unpromised() -> None:
    state = fold([expected(4, 3)], SkuState.empty(SKU))
    state, first = run(state, back("b1", 3))
    state, second = run(state, back("b2", 2))
    assert (first.outcome, second.outcome, second.reason) == (
        "accepted",
        "rejected",
        "insufficient_supply",
    )
    state, third = run(state, back("b3", 1))
    assert third.outcome == "accepted"
    assert state.incoming["supply:DC:PO-1"].unpromised == 0
    assert horizon(state).steps == ((day(0), 0),)


def test_an_overdue_supply_takes_no_backorder() -> None:
    state = fold([expected(4, 1)], SkuState.empty(SKU))
    _, refused = run(state, back("b1", 1, t=days(2) + 1))
    assert refused.reason == "insufficient_supply"


def test_a_receipt_moves_waiting_units_oldest_first() -> None:
    state = fold([expected(10, 3)], SkuState.empty(SKU))
    state, _ = run(state, back("old", 4))
    state, _ = run(state, commit("old", t=1))
    state, _ = run(state, back("new", 5, t=2))
    state = fold([fact("received", "DC", 6, order_id="PO-1", t=3)], state)
    position = state.position("DC")
    assert (position.on_hand, position.committed, position.reserved) == (6, 4, 2)
    assert state.incoming["supply:DC:PO-1"].backorders == {"web new": 3}
    state, released = run(state, release("new", t=4))
    assert released.outcome == "accepted" and released.available_after == 2
    assert state.incoming["supply:DC:PO-1"].backorders == {}
    assert state.position("DC").reserved == 0


def test_a_short_receipt_leaves_the_newest_backorders_uncovered() -> None:
    state = fold([expected(6, 3)], SkuState.empty(SKU))
    for index, hold in enumerate(("a", "b")):
        state, _ = run(state, back(hold, 3, t=index))
        state, _ = run(state, commit(hold, t=index))
    short = fold([fact("supply_cancelled", "DC", 4, order_id="PO-1", t=5)], state)
    item = short.incoming["supply:DC:PO-1"]
    assert (item.qty, dict(item.backorders), item.unpromised) == (2, {"web a": 3, "web b": 3}, -4)
    # the over-promise is spoken for: nothing is promised until it is moved
    assert horizon(short).steps == ((day(0), 0),)
    cancelled = fold([fact("supply_cancelled", "DC", 2, order_id="PO-1", t=6)], short)
    assert cancelled.incoming["supply:DC:PO-1"].qty == 0  # kept: holds still wait on it


def test_a_cancelled_backorder_gives_back_its_waiting_units_first() -> None:
    state = fold([fact("received", "DC", 1), expected(6, 3)], SkuState.empty(SKU))
    state, _ = run(state, back("b", 4))
    state, _ = run(state, commit("b", t=1))
    assert (state.position("DC").committed, state.incoming["supply:DC:PO-1"].backorders) == (
        1,
        {"web b": 3},
    )
    state = fold([fact("order_cancelled", "DC", 4, order_id="o-b", hold_id="b", t=2)], state)
    assert state.position("DC").committed == 0
    assert state.incoming["supply:DC:PO-1"].backorders == {}


def test_a_pending_backorder_expires_off_its_supply() -> None:
    state = fold([expected(6, 3)], SkuState.empty(SKU))
    state, _ = run(state, back("b", 4))
    state = decide(state, expire(1_000), WEB).state
    assert state.incoming["supply:DC:PO-1"].backorders == {}
    assert state.find_hold("web", "b") is not None and state.holds == {}


def test_a_fully_cancelled_supply_with_nothing_waiting_is_dropped() -> None:
    state = fold([expected(6, 3)], SkuState.empty(SKU))
    state, _ = run(state, back("b", 2))
    state = fold([fact("supply_cancelled", "DC", 6, order_id="PO-1", t=1)], state)
    assert state.incoming["supply:DC:PO-1"].qty == 0
    state, _ = run(state, release("b", t=2))
    assert state.incoming == {}


# --- bad input -------------------------------------------------------------------------------


def test_an_eta_in_the_past_is_refused_by_name() -> None:
    body = {
        "type": "supply_expected",
        "event_id": "e-1",
        "sku": SKU,
        "location": "DC",
        "qty": 3,
        "order_id": "PO-1",
        "source": "erp",
        "occurred_at": "2026-12-05T10:00:00Z",
        "eta": "2026-12-04T10:00:00Z",
    }
    with pytest.raises(DecodeError, match=r"eta: before occurred_at \(an ETA in the past\)"):
        decode_event(orjson.dumps(body))
    transfer = {**body, "type": "transfer_out", "target_location": "S1"}
    with pytest.raises(DecodeError, match="an ETA in the past"):
        decode_event(orjson.dumps(transfer))
    assert decode_event(orjson.dumps({**body, "eta": body["occurred_at"]})).qty == 3


def test_a_backorder_needs_a_location() -> None:
    with pytest.raises(ValueError, match="backorder: needs a location"):
        reserve("b", "web", 1, backorder=True)
