"""Property tests: the ledger against a small, independent reference model.

The reference is written plainly (mutable dicts, no shared code with ledger/) from the
formulas in DESIGN.md. A hypothesis state machine drives both with facts, duplicate
deliveries, reserve / commit / release and timer ticks, and checks every invariant:
  1. an accepted hold never makes available negative (and a commit never changes it);
  2. a duplicate (event_id, hold_id, request_id) changes nothing;
  3. a hold resolves at most once; a rebuild from the log equals the incremental state;
  4. published figures are >= 0 and versions only go forward;
  5. no reachable state fails validation: with quantities up to QTY_UNITS_MAX, a fact that
     would carry units past the bound is refused (LimitExceeded) and changes nothing, and
     every decision on what remains is a valid wire record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ledger import limits
from ledger.availability import changed_figures, figures, location_available
from ledger.commands import Decision
from ledger.decide import decide
from ledger.errors import LimitExceeded
from ledger.events import FACT_TYPES, Fact, HoldEventUnion
from ledger.fold import apply_event, fold, units_in_bounds
from ledger.state import SkuState
from tests.support.ledger_builders import (
    SKU,
    book,
    channel,
    commit,
    expire,
    fact,
    release,
    reserve,
    safety,
)

EXAMPLES = int(os.environ.get("TALLY_HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

LOCATIONS = ("A", "B", "C")
POLICIES = book(
    channel("web", "A", "B", buffer_units=1, pickup_locations=("C",)),
    channel("market", "B", "C", strategy="most_available", allocation_cap_units=5),
    safety("A", 1),
)
BUCKETS = ("on_hand", "committed", "reserved", "damaged", "inspection")
UNITS_MAX = limits.QTY_UNITS_MAX
HUGE_UNITS = st.integers(UNITS_MAX // 3, UNITS_MAX)


# --- the reference model -------------------------------------------------------------------


@dataclass
class RefHold:
    location: str
    qty: int
    expires_at_s: float
    status: str = "pending"


@dataclass
class Reference:
    stock: dict[str, dict[str, int]] = field(
        default_factory=lambda: {loc: dict.fromkeys(BUCKETS, 0) for loc in LOCATIONS}
    )
    holds: dict[str, RefHold] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)
    first_answer: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    in_transit: dict[str, int] = field(default_factory=dict)  # target -> units (order "to-1")

    def fact_fits(self, kind: str, loc: str, qty: int, extra: dict[str, Any]) -> bool:
        """Whether the fact leaves every figure within +-QTY_UNITS_MAX (else it is refused)."""
        stock = {location: dict(units) for location, units in self.stock.items()}
        trial = Reference(stock, in_transit=dict(self.in_transit))
        trial.apply_fact(kind, loc, qty, extra)
        s = trial.stock[loc]
        held = s["committed"] + s["reserved"] + s["damaged"] + s["inspection"]
        in_bounds = s["on_hand"] - held >= -UNITS_MAX and s["on_hand"] <= UNITS_MAX
        transit_in_bounds = max(trial.in_transit.values(), default=0) <= UNITS_MAX
        return in_bounds and held <= UNITS_MAX and transit_in_bounds

    def available(self, loc: str) -> int:
        s = self.stock[loc]
        free = s["on_hand"] - s["committed"] - s["reserved"] - s["damaged"] - s["inspection"]
        held_back = {"A": 1}.get(loc, 0)
        return free if free < 0 else max(0, free - held_back)

    def ats(self, name: str) -> int:
        locs, buffer, cap = {"web": (("A", "B"), 1, None), "market": (("B", "C"), 0, 5)}[name]
        total = sum(self.available(loc) for loc in locs) - buffer
        return max(0, total if cap is None else min(cap, total))

    def apply_fact(self, kind: str, loc: str, qty: int, extra: dict[str, Any]) -> None:
        s = self.stock[loc]
        if kind in ("received", "transfer_in", "adjusted"):
            s["on_hand"] += qty
        elif kind in ("sold_in_store", "transfer_out"):
            s["on_hand"] -= qty
        if kind == "transfer_out":
            target = extra["target_location"]
            self.in_transit[target] = self.in_transit.get(target, 0) + qty
        elif kind == "transfer_in" and loc in self.in_transit:
            left = self.in_transit.pop(loc) - qty
            if left > 0:
                self.in_transit[loc] = left
        elif kind == "shipped":
            s["on_hand"] -= qty
            s["committed"] = max(0, s["committed"] - qty)
        elif kind == "counted":
            s["on_hand"] = qty
        elif kind == "damaged":
            s["damaged"] += qty
        elif kind == "return_received":
            s["on_hand"] += qty
            s["inspection"] += qty
        elif kind == "return_graded":
            taken = min(qty, s["inspection"])
            s["inspection"] -= taken
            s["on_hand"] += qty - taken
            if extra["disposition"] == "damaged":
                s["damaged"] += qty
            if extra["disposition"] == "dispose":
                s["on_hand"] -= qty
        elif kind == "order_placed":
            s["committed"] += qty
        elif kind == "order_cancelled":
            s["committed"] = max(0, s["committed"] - qty)

    def expire_due(self, now_s: float) -> None:
        for hold in self.holds.values():
            if hold.status == "pending" and hold.expires_at_s <= now_s:
                self.stock[hold.location]["reserved"] -= hold.qty
                hold.status = "expired"

    def reserve(self, name: str, qty: int, loc: str | None) -> tuple[str, str | None]:
        locs = {"web": ("A", "B"), "market": ("B", "C")}[name]
        pickup = {"web": ("C",), "market": ()}[name]
        if loc is not None:
            if loc not in locs and loc not in pickup:
                return "rejected", None
            if self.available(loc) < qty or (loc in locs and self.ats(name) < qty):
                return "rejected", None
            return "accepted", loc
        if self.ats(name) < qty:
            return "rejected", None
        fits = [x for x in locs if self.available(x) >= qty]
        if not fits:
            return "rejected", None
        if name == "market":
            best = max(self.available(x) for x in fits)
            return "accepted", next(x for x in fits if self.available(x) == best)
        return "accepted", fits[0]

    def resolve(self, hold_id: str, to: str) -> str:
        hold = self.holds.get(hold_id)
        if hold is None or hold.status != "pending":
            return "rejected"
        self.stock[hold.location]["reserved"] -= hold.qty
        if to == "committed":
            self.stock[hold.location]["committed"] += hold.qty
        hold.status = to
        return "accepted"


# --- the machine ---------------------------------------------------------------------------


def fact_fields(kind: str, loc: str, qty: int, draw: Any) -> dict[str, Any]:
    if kind == "adjusted":
        return {"qty": draw(st.sampled_from((-2, -1, 1, 3))), "reason": "found"}
    if kind == "return_graded":
        return {"disposition": draw(st.sampled_from(("restock", "damaged", "dispose")))}
    if kind == "transfer_out":
        return {"target_location": draw(st.sampled_from([x for x in LOCATIONS if x != loc]))}
    return {}


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = SkuState.empty(SKU)
        self.ref = Reference()
        self.log: list[Fact | HoldEventUnion] = []
        self.facts: list[Fact] = []
        self.hold_ids: list[str] = []
        self.channels: dict[str, str] = {}  # hold_id -> the channel that asked for it
        self.answers: dict[str, Decision] = {}
        self.now_s = 0.0

    @initialize(units=st.tuples(*(st.integers(0, 12) for _ in LOCATIONS)))
    def some_stock(self, units: tuple[int, ...]) -> None:
        for loc, qty in zip(LOCATIONS, units, strict=True):
            if qty:
                self._fact(fact("received", loc, qty), "received", {})

    def _fact(self, event: Fact, kind: str, extra: dict[str, Any]) -> None:
        if not self.ref.fact_fits(kind, event.location, event.qty, extra):
            try:
                apply_event(self.state, event)
            except LimitExceeded:
                note_event(f"{kind} past the units bound: refused")
                return
            raise AssertionError(f"{kind} of {event.qty} should be refused (units bound)")
        applied = apply_event(self.state, event)
        assert applied.outcome == "applied"
        assert applied.state.version == self.state.version + 1
        self.ref.apply_fact(kind, event.location, event.qty, extra)
        self.state = applied.state
        self.log.append(event)
        self.facts.append(event)

    # facts
    @rule(
        kind=st.sampled_from(FACT_TYPES),
        loc=st.sampled_from(LOCATIONS),
        qty=st.integers(1, 6),
        data=st.data(),
    )
    def a_fact(self, kind: str, loc: str, qty: int, data: st.DataObject) -> None:
        if kind == "counted":
            qty = data.draw(st.integers(0, 8))
        extra = fact_fields(kind, loc, qty, data.draw)
        qty = extra.pop("qty", qty)
        self._fact(fact(kind, loc, qty, t=self.now_s, **extra), kind, extra)

    @rule(kind=st.sampled_from(FACT_TYPES), loc=st.sampled_from(LOCATIONS), data=st.data())
    def a_huge_fact(self, kind: str, loc: str, data: st.DataObject) -> None:
        qty = data.draw(HUGE_UNITS)
        extra = fact_fields(kind, loc, qty, data.draw)
        if kind == "adjusted":
            extra["qty"] = data.draw(st.sampled_from((-1, 1))) * qty
        qty = extra.pop("qty", qty)
        self._fact(fact(kind, loc, qty, t=self.now_s, **extra), kind, extra)

    @precondition(lambda self: self.facts)
    @rule(data=st.data())
    def a_duplicate_delivery(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.facts))
        applied = apply_event(self.state, event)
        assert applied.outcome == "duplicate"
        assert applied.state is self.state

    # commands
    def _decide(self, command: Any) -> Decision | None:
        decided = decide(self.state, command, POLICIES)
        assert fold(decided.events, self.state) == decided.state
        self.state = decided.state
        self.log.extend(decided.events)
        return decided.decision

    @rule(
        name=st.sampled_from(("web", "market")),
        qty=st.integers(1, 5) | HUGE_UNITS,
        loc=st.none() | st.sampled_from(LOCATIONS),
        ttl_s=st.integers(1, 120),
    )
    def a_reserve(self, name: str, qty: int, loc: str | None, ttl_s: int) -> None:
        hold_id = f"h{len(self.hold_ids)}"
        self.ref.expire_due(self.now_s)
        want = self.ref.reserve(name, qty, loc)
        command = reserve(hold_id, name, qty, t=self.now_s, location=loc, ttl_s=ttl_s)
        decision = self._decide(command)
        assert decision is not None
        note_event(f"reserve {decision.outcome} {decision.reason or ''}")
        assert (decision.outcome, decision.location if want[1] else want[1]) == want
        if decision.outcome == "accepted":
            assert decision.location is not None
            assert location_available(self.state, decision.location, POLICIES) >= 0
            self.ref.stock[decision.location]["reserved"] += qty
            self.ref.holds[hold_id] = RefHold(decision.location, qty, self.now_s + ttl_s)
        self.hold_ids.append(hold_id)
        self.channels[hold_id] = name
        self.answers[hold_id] = decision

    @precondition(lambda self: self.hold_ids)
    @rule(data=st.data())
    def a_repeated_reserve(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(self.hold_ids))
        before = self.state
        owner = self.channels[hold_id]
        decided = decide(before, reserve(hold_id, owner, 1, t=self.now_s), POLICIES)
        assert decided.decision == self.answers[hold_id]
        assert decided.events == () and decided.state is before

    @precondition(lambda self: self.hold_ids)
    @rule(
        data=st.data(),
        to=st.sampled_from(("committed", "released")),
        by=st.sampled_from(("admin", "owner", "other")),
    )
    def a_resolution(self, data: st.DataObject, to: str, by: str) -> None:
        hold_id = data.draw(st.sampled_from(self.hold_ids))
        self.ref.expire_due(self.now_s)
        # Hold ids are each channel's own: another channel never finds this hold.
        want = "rejected" if by == "other" else self.ref.resolve(hold_id, to)
        maker = commit if to == "committed" else release
        owner = self.channels[hold_id]
        asker = {"admin": None, "owner": owner, "other": "market" if owner == "web" else "web"}
        command = maker(hold_id, t=self.now_s).model_copy(update={"channel": asker[by]})
        loc = self.ref.holds[hold_id].location if hold_id in self.ref.holds else None
        was = location_available(self.state, loc, POLICIES) if loc else 0
        decision = self._decide(command)
        assert decision is not None and decision.outcome == want
        note_event(f"{to}: {decision.outcome} {decision.reason or ''}")
        if want == "accepted" and to == "committed":
            assert loc is not None
            assert location_available(self.state, loc, POLICIES) == was
        again = decide(self.state, command, POLICIES)  # same request_id: first answer
        assert again.decision == decision and again.events == ()

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        self.now_s += seconds
        self.ref.expire_due(self.now_s)
        assert self._decide(expire(self.now_s)) is None

    # invariants
    @invariant()
    def positions_match_the_reference(self) -> None:
        for loc in LOCATIONS:
            position = self.state.position(loc)
            assert {b: getattr(position, b) for b in BUCKETS} == self.ref.stock[loc], loc

    @invariant()
    def holds_match_the_reference(self) -> None:
        pending = {h for h, hold in self.ref.holds.items() if hold.status == "pending"}
        assert {hold.hold_id for hold in self.state.holds.values()} == pending
        for hold_id, hold in self.ref.holds.items():
            found = self.state.find_hold(self.channels[hold_id], hold_id)
            assert found is not None and found.status == hold.status

    @invariant()
    def every_position_is_within_the_units_bound(self) -> None:
        assert all(units_in_bounds(p) for p in self.state.positions.values())

    @invariant()
    def published_figures_are_never_negative(self) -> None:
        published = figures(self.state, POLICIES)
        assert all(units >= 0 for units in published.channels.values())
        assert all(units >= 0 for units in published.locations.values())
        assert published.channels == {"web": self.ref.ats("web"), "market": self.ref.ats("market")}

    @invariant()
    def a_rebuild_from_the_log_equals_the_live_state(self) -> None:
        assert fold(self.log, SkuState.empty(SKU)) == self.state
        assert self.state.version == len(self.log)


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = PROPERTY


# --- stateless properties ------------------------------------------------------------------


def _any_fact(kind: str, loc: str, qty: int) -> Fact:
    extra: dict[str, Any] = {}
    if kind == "adjusted":
        extra = {"reason": "r"}
    elif kind == "return_graded":
        extra = {"disposition": "damaged"}
    elif kind == "transfer_out":
        extra = {"target_location": "C" if loc != "C" else "A"}
    return fact(kind, loc, qty, **extra)


_facts = st.builds(
    _any_fact, st.sampled_from(FACT_TYPES), st.sampled_from(LOCATIONS), st.integers(1, 9)
)


@PROPERTY
@given(st.lists(_facts, max_size=25), _facts)
def test_changed_figures_are_exactly_the_figures_that_differ(
    history: list[Fact], event: Fact
) -> None:
    before = fold(history, SkuState.empty(SKU))
    after = apply_event(before, event).state
    old, new = figures(before, POLICIES), figures(after, POLICIES)
    changed = changed_figures(before, after, POLICIES)
    assert changed.channels == {k: v for k, v in new.channels.items() if old.channels.get(k) != v}
    # A location the SKU never had a position at reads as 0 (so does a missing Redis field).
    assert changed.locations == {
        k: v for k, v in new.locations.items() if old.locations.get(k, 0) != v
    }


@PROPERTY
@given(st.lists(_facts, max_size=25), st.data())
def test_duplicates_anywhere_in_the_log_change_nothing(history: list[Fact], data: Any) -> None:
    once = fold(history, SkuState.empty(SKU))
    doubled = list(history)
    for _ in range(data.draw(st.integers(0, 5)) if history else 0):
        original = data.draw(st.integers(0, len(history) - 1))
        later = data.draw(st.integers(doubled.index(history[original]) + 1, len(doubled)))
        doubled.insert(later, history[original])  # redelivered any time after the original
    assert fold(doubled, SkuState.empty(SKU)) == once


@PROPERTY
@given(st.lists(_facts, max_size=30))
def test_an_oversell_is_reported_with_its_size(history: list[Fact]) -> None:
    state = SkuState.empty(SKU)
    total = 0
    for event in history:
        applied = apply_event(state, event)
        position = applied.state.position(event.location)
        was = state.position(event.location).free_units
        assert applied.oversell_units == max(0, min(was, 0) - min(position.free_units, 0))
        total += applied.oversell_units
        state = applied.state
    assert state.counters.oversold_units == total
