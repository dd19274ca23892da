"""Property tests of backorders and availability by date, against a plain reference model.

A hypothesis state machine sends supply (expected, again later, short, cancelled, received),
sales, backorder reserves, commits, releases, cancellations and timer ticks, and checks:
  1. a backorder is never accepted past a supply's units not yet promised, and nothing is
     ever promised beyond the supply incoming (ATP by date <= stock + unpromised supply);
  2. the ledger's positions, supplies and waiting units equal the reference's (receipts
     move waiting units oldest first; a short or cancelled supply leaves the newest
     uncovered);
  3. a rebuild from the log equals the live state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.decide import decide
from ledger.events import Fact, HoldEventUnion
from ledger.fold import fold
from ledger.promise.atp import channel_horizon
from ledger.state import SkuState, hold_id_of, hold_key
from tests.support.ledger_builders import (
    SKU,
    T0,
    at,
    book,
    channel,
    commit,
    expire,
    fact,
    release,
    reserve,
)

EXAMPLES = int(os.environ.get("TALLY_HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
POLICIES = book(channel("web", "DC"))
ORDERS = ("PO-1", "PO-2", "PO-3")
DAY_S = 86_400.0
TTL_S = 3_600


@dataclass
class RefSupply:
    qty: int
    eta_s: float
    waiting: dict[str, int] = field(default_factory=dict)  # placement order


@dataclass
class RefHold:
    qty: int
    supply: str | None
    status: str = "pending"
    expires_s: float = 0.0


@dataclass
class Reference:
    on_hand: int = 0
    committed: int = 0
    reserved: int = 0
    supplies: dict[str, RefSupply] = field(default_factory=dict)
    holds: dict[str, RefHold] = field(default_factory=dict)

    def free(self) -> int:
        return self.on_hand - self.committed - self.reserved

    def waiting(self, hold_id: str) -> int:
        hold = self.holds[hold_id]
        supply = None if hold.supply is None else self.supplies.get(hold.supply)
        return 0 if supply is None else supply.waiting.get(hold_id, 0)

    def drop_if_done(self, order: str) -> None:
        supply = self.supplies[order]
        if supply.qty <= 0 and not supply.waiting:
            del self.supplies[order]

    def arrive(self, order: str, qty: int) -> None:
        self.on_hand += qty
        supply = self.supplies.get(order)
        if supply is None:
            return
        left = qty
        for hold_id, units in list(supply.waiting.items()):
            take = min(units, left)
            left -= take
            if self.holds[hold_id].status == "pending":
                self.reserved += take
            else:
                self.committed += take
            if units > take:
                supply.waiting[hold_id] = units - take
            else:
                del supply.waiting[hold_id]
        supply.qty = max(0, supply.qty - qty)
        self.drop_if_done(order)

    def backorder(self, hold_id: str, qty: int, now_s: float) -> bool:
        now_units = max(0, min(qty, self.free()))
        waiting = qty - now_units
        deficit = max(0, -self.free())  # an oversell takes the first units that come
        supply = None
        if waiting:
            fits = sorted(
                (s.eta_s, order)
                for order, s in self.supplies.items()
                if s.eta_s + DAY_S >= now_s and s.qty - sum(s.waiting.values()) >= waiting + deficit
            )
            if not fits:
                return False
            supply = fits[0][1]
            self.supplies[supply].waiting[hold_id] = waiting
        self.reserved += now_units
        self.holds[hold_id] = RefHold(qty, supply, expires_s=now_s + TTL_S)
        return True

    def resolve(self, hold_id: str, to: str) -> None:
        hold = self.holds[hold_id]
        here = hold.qty - self.waiting(hold_id)
        self.reserved -= here
        if to == "committed":
            self.committed += here
        elif hold.supply is not None and hold.supply in self.supplies:
            self.supplies[hold.supply].waiting.pop(hold_id, None)
            self.drop_if_done(hold.supply)
        hold.status = to

    def cancel_committed(self, hold_id: str) -> None:
        hold = self.holds[hold_id]
        from_supply = self.waiting(hold_id)
        if hold.supply is not None and from_supply:
            del self.supplies[hold.supply].waiting[hold_id]
            self.drop_if_done(hold.supply)
        self.committed = max(0, self.committed - (hold.qty - from_supply))
        hold.status = "cancelled"


class BackorderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = SkuState.empty(SKU)
        self.ref = Reference()
        self.log: list[Fact | HoldEventUnion] = []
        self.now_s = 0.0
        self.count = 0

    def _fact(self, kind: str, qty: int, **fields: Any) -> None:
        event = fact(kind, "DC", qty, t=self.now_s, **fields)
        self.state = fold([event], self.state)
        self.log.append(event)

    def _decide(self, command: Any) -> Any:
        decided = decide(self.state, command, POLICIES)
        self.state = decided.state
        self.log += decided.events
        return decided.decision

    def _expire_due(self) -> None:
        for hold_id, hold in self.ref.holds.items():
            if hold.status == "pending" and hold.expires_s <= self.now_s:
                self.ref.resolve(hold_id, "expired")

    @rule(order=st.sampled_from(ORDERS), qty=st.integers(1, 8), eta_days=st.integers(0, 10))
    def supply_expected(self, order: str, qty: int, eta_days: int) -> None:
        eta = at(self.now_s) + timedelta(days=eta_days)
        self._fact("supply_expected", qty, order_id=order, eta=eta)
        supply = self.ref.supplies.setdefault(order, RefSupply(qty, 0.0))
        supply.qty, supply.eta_s = qty, self.now_s + eta_days * DAY_S

    @rule(order=st.sampled_from(ORDERS), qty=st.integers(1, 8))
    def supply_cancelled(self, order: str, qty: int) -> None:
        self._fact("supply_cancelled", qty, order_id=order)
        if order in self.ref.supplies:
            supply = self.ref.supplies[order]
            supply.qty = max(0, supply.qty - qty)
            self.ref.drop_if_done(order)

    @rule(order=st.sampled_from(ORDERS), qty=st.integers(1, 8))
    def received(self, order: str, qty: int) -> None:
        self._fact("received", qty, order_id=order)
        self.ref.arrive(order, qty)

    @rule(qty=st.integers(1, 4))
    def sold(self, qty: int) -> None:
        self._fact("sold_in_store", qty)
        self.ref.on_hand -= qty

    @rule(qty=st.integers(1, 8))
    def backorder(self, qty: int) -> None:
        self.count += 1
        hold_id = f"b{self.count}"
        self._expire_due()
        decision = self._decide(
            reserve(hold_id, "web", qty, t=self.now_s, location="DC", backorder=True, ttl_s=TTL_S)
        )
        accepted = self.ref.backorder(hold_id, qty, self.now_s)
        assert (decision.outcome == "accepted") is accepted, decision
        if accepted and decision.waiting:
            supply = self.state.incoming[self.state.holds[hold_key("web", hold_id)].supply or ""]
            assert supply.unpromised >= 0, "a backorder was promised past its supply"

    def _pending(self) -> list[str]:
        return [h for h, hold in self.ref.holds.items() if hold.status == "pending"]

    @precondition(lambda self: any(h.status == "pending" for h in self.ref.holds.values()))
    @rule(data=st.data(), to=st.sampled_from(("committed", "released")))
    def resolve(self, data: st.DataObject, to: str) -> None:
        hold_id = data.draw(st.sampled_from(self._pending()))
        self._expire_due()
        still_pending = self.ref.holds[hold_id].status == "pending"
        command = commit if to == "committed" else release
        decision = self._decide(command(hold_id, t=self.now_s))
        assert (decision.outcome == "accepted") is still_pending
        if still_pending:
            self.ref.resolve(hold_id, to)

    @precondition(lambda self: any(h.status == "committed" for h in self.ref.holds.values()))
    @rule(data=st.data())
    def cancel_committed(self, data: st.DataObject) -> None:
        committed = [h for h, hold in self.ref.holds.items() if hold.status == "committed"]
        hold_id = data.draw(st.sampled_from(committed))
        qty = self.ref.holds[hold_id].qty
        self._fact("order_cancelled", qty, order_id=f"o-{hold_id}", hold_id=hold_id)
        self.ref.cancel_committed(hold_id)

    @rule(hours=st.sampled_from((0.5, 6.0, 30.0)))
    def time_passes(self, hours: float) -> None:
        self.now_s += hours * 3_600
        self._decide(expire(self.now_s))
        self._expire_due()

    @invariant()
    def the_ledger_matches_the_reference(self) -> None:
        position = self.state.position("DC")
        ref = self.ref
        assert (position.on_hand, position.committed, position.reserved) == (
            ref.on_hand,
            ref.committed,
            ref.reserved,
        )
        supplies = {
            item.order_id: (item.qty, [(hold_id_of(k), u) for k, u in item.backorders.items()])
            for item in self.state.incoming.values()
        }
        assert supplies == {
            order: (s.qty, list(s.waiting.items())) for order, s in ref.supplies.items()
        }
        assert {hold.hold_id for hold in self.state.holds.values()} == set(self._pending())

    @invariant()
    def nothing_is_promised_beyond_what_comes(self) -> None:
        now = T0 + timedelta(seconds=self.now_s)
        horizon = channel_horizon(self.state, POLICIES.channels["web"], POLICIES, now, 15)
        unpromised = sum(max(0, item.unpromised) for item in self.state.incoming.values())
        ceiling = max(0, self.state.position("DC").free_units) + unpromised
        assert all(units <= ceiling for _, units in horizon.steps)

    @invariant()
    def a_rebuild_from_the_log_equals_the_live_state(self) -> None:
        rebuilt = fold(self.log, SkuState.empty(SKU))
        assert rebuilt.positions == self.state.positions
        assert rebuilt.incoming == self.state.incoming
        assert rebuilt.holds == self.state.holds


TestBackorderMachine = BackorderMachine.TestCase
TestBackorderMachine.settings = PROPERTY
