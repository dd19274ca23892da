"""evolve(state, event) -> state, and fold = reduce(evolve). Pure, deterministic, no I/O.

Facts are never rejected: a fact that drives a location's free units below zero is applied
and reported as an oversell of the size it caused. A fact whose event_id was seen before,
or a hold event the state already reflects, is a duplicate and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import reduce
from typing import Literal, NamedTuple, TypeVar

from ledger import limits
from ledger.commands import Decision
from ledger.errors import InvariantBroken, LimitExceeded
from ledger.events import (
    Adjusted,
    CommandRejected,
    Counted,
    Damaged,
    Fact,
    HoldCommitted,
    HoldEventUnion,
    HoldPlaced,
    HoldReleased,
    OrderCancelled,
    OrderPlaced,
    Received,
    ReturnGraded,
    ReturnReceived,
    Shipped,
    SoldInStore,
    SupplyExpected,
    TransferIn,
    TransferOut,
)
from ledger.state import (
    EMPTY_POSITION,
    Counters,
    Hold,
    HoldStatus,
    Incoming,
    Position,
    SkuState,
    incoming_key,
    seen_add,
)

AnyEvent = Fact | HoldEventUnion
V = TypeVar("V")


class Applied(NamedTuple):
    state: SkuState
    outcome: Literal["applied", "duplicate"]
    oversell_units: int = 0  # size of the oversell this fact caused
    variance_units: int = 0  # cycle count: counted - recorded on-hand


def apply_event(state: SkuState, event: AnyEvent) -> Applied:
    """Apply one event (fact or hold event) of `state.sku`."""
    if event.sku != state.sku:
        raise InvariantBroken(f"event for sku {event.sku!r} folded into {state.sku!r}")
    if event.type in _HOLD_HANDLERS:
        return _HOLD_HANDLERS[event.type](state, event)  # type: ignore[arg-type]
    return _apply_fact(state, event)  # type: ignore[arg-type]


def evolve(state: SkuState, event: AnyEvent) -> SkuState:
    return apply_event(state, event).state


def fold(events: Iterable[AnyEvent], state: SkuState) -> SkuState:
    return reduce(evolve, events, state)


# --- facts ---------------------------------------------------------------------------------

_IncomingChange = tuple[str, Incoming | None] | None


def _apply_fact(state: SkuState, event: Fact) -> Applied:
    event_id = event.event_id
    for chunk in state.seen.chunks:
        if event_id in chunk:
            return Applied(state, "duplicate")
    location = event.location
    before = state.positions.get(location)
    if before is None:
        if len(state.positions) >= limits.LOCATIONS_PER_SKU_MAX:
            raise LimitExceeded(f"location: sku has {limits.LOCATIONS_PER_SKU_MAX} locations")
        before = EMPTY_POSITION
    after, change = _FACT_STEPS[event.type](before, event, state.incoming)
    _check_position(after)
    at = event.occurred_at if event.ingested_at is None else event.ingested_at
    clock = state.clock
    if clock is None or at > clock:
        clock = at
    positions = dict(state.positions)
    positions[location] = after
    incoming = state.incoming if change is None else _incoming_with(state.incoming, change)
    free_before, free_after = before.free_units, after.free_units
    oversell = max(0, min(free_before, 0) - min(free_after, 0))
    variance = 0
    counters = state.counters
    if event.type == "counted":
        variance = after.on_hand - before.on_hand
        counters = _counted(counters, variance)
    if oversell:
        counters = counters._replace(
            oversold_units=counters.oversold_units + oversell, oversells=counters.oversells + 1
        )
    new = SkuState(
        state.sku,
        state.version + 1,
        clock,
        positions,
        state.holds,
        state.resolved,
        state.decisions,
        incoming,
        seen_add(state.seen, event_id, at, clock),
        counters,
    )
    return Applied(new, "applied", oversell, variance)


def _counted(counters: Counters, variance: int) -> Counters:
    return counters._replace(
        counts=counters.counts + 1,
        counts_exact=counters.counts_exact + (variance == 0),
        variance_net_units=counters.variance_net_units + variance,
        variance_abs_units=counters.variance_abs_units + abs(variance),
    )


def _incoming_with(
    incoming: Mapping[str, Incoming], change: tuple[str, Incoming | None]
) -> Mapping[str, Incoming]:
    key, item = change
    if item is None:
        return {k: v for k, v in incoming.items() if k != key}
    if key not in incoming and len(incoming) >= limits.INCOMING_PER_SKU_MAX:
        raise LimitExceeded(f"order_id: sku has {limits.INCOMING_PER_SKU_MAX} incoming orders")
    return {**incoming, key: item}


def _check_position(p: Position) -> None:
    if p.committed < 0 or p.reserved < 0 or p.damaged < 0 or p.inspection < 0:
        raise InvariantBroken(f"negative bucket in {p}")


_Incoming = Mapping[str, Incoming]
_Step = Callable[[Position, Fact, _Incoming], tuple[Position, _IncomingChange]]


def _received(p: Position, e: Received, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    after = p._replace(on_hand=p.on_hand + e.qty)
    if e.order_id is None:
        return after, None
    return after, _arrive(inc, incoming_key("supply", e.location, e.order_id), e.qty)


def _arrive(inc: _Incoming, key: str, qty: int) -> _IncomingChange:
    """Reduce an expected order by the units that arrived; drop it when complete."""
    item = inc.get(key)
    if item is None:
        return None
    if item.qty <= qty:
        return key, None
    return key, item._replace(qty=item.qty - qty)


def _shipped(p: Position, e: Shipped, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(on_hand=p.on_hand - e.qty, committed=max(0, p.committed - e.qty)), None


def _sold(p: Position, e: SoldInStore, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(on_hand=p.on_hand - e.qty), None


def _adjusted(p: Position, e: Adjusted, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(on_hand=p.on_hand + e.qty), None


def _counted_step(p: Position, e: Counted, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(on_hand=e.qty), None


def _damaged(p: Position, e: Damaged, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(damaged=p.damaged + e.qty), None


def _transfer_out(p: Position, e: TransferOut, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    key = incoming_key("transfer", e.target_location, e.order_id)
    item = inc.get(key)
    qty = e.qty if item is None else item.qty + e.qty
    eta = e.eta if item is None or e.eta is not None else item.eta
    transit = Incoming("transfer", e.order_id, e.target_location, qty, eta, e.location)
    return p._replace(on_hand=p.on_hand - e.qty), (key, transit)


def _transfer_in(p: Position, e: TransferIn, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    key = incoming_key("transfer", e.location, e.order_id)
    return p._replace(on_hand=p.on_hand + e.qty), _arrive(inc, key, e.qty)


def _return_received(
    p: Position, e: ReturnReceived, inc: _Incoming
) -> tuple[Position, _IncomingChange]:
    return p._replace(on_hand=p.on_hand + e.qty, inspection=p.inspection + e.qty), None


def _return_graded(
    p: Position, e: ReturnGraded, inc: _Incoming
) -> tuple[Position, _IncomingChange]:
    # Units graded beyond those awaiting inspection were received at grading time.
    from_inspection = min(p.inspection, e.qty)
    on_hand = p.on_hand + (e.qty - from_inspection)
    p = p._replace(on_hand=on_hand, inspection=p.inspection - from_inspection)
    if e.disposition == "damaged":
        return p._replace(damaged=p.damaged + e.qty), None
    if e.disposition == "dispose":
        return p._replace(on_hand=p.on_hand - e.qty), None
    return p, None


def _order_placed(p: Position, e: OrderPlaced, inc: _Incoming) -> tuple[Position, _IncomingChange]:
    return p._replace(committed=p.committed + e.qty), None


def _order_cancelled(
    p: Position, e: OrderCancelled, inc: _Incoming
) -> tuple[Position, _IncomingChange]:
    return p._replace(committed=max(0, p.committed - e.qty)), None


def _supply_expected(
    p: Position, e: SupplyExpected, inc: _Incoming
) -> tuple[Position, _IncomingChange]:
    item = Incoming("supply", e.order_id, e.location, e.qty, e.eta)
    return p, (incoming_key("supply", e.location, e.order_id), item)


_FACT_STEPS: dict[str, _Step] = {
    "received": _received,  # type: ignore[dict-item]
    "shipped": _shipped,  # type: ignore[dict-item]
    "sold_in_store": _sold,  # type: ignore[dict-item]
    "adjusted": _adjusted,  # type: ignore[dict-item]
    "counted": _counted_step,  # type: ignore[dict-item]
    "damaged": _damaged,  # type: ignore[dict-item]
    "transfer_out": _transfer_out,  # type: ignore[dict-item]
    "transfer_in": _transfer_in,  # type: ignore[dict-item]
    "return_received": _return_received,  # type: ignore[dict-item]
    "return_graded": _return_graded,  # type: ignore[dict-item]
    "order_placed": _order_placed,  # type: ignore[dict-item]
    "order_cancelled": _order_cancelled,  # type: ignore[dict-item]
    "supply_expected": _supply_expected,  # type: ignore[dict-item]
}


# --- hold events ---------------------------------------------------------------------------


def _placed(state: SkuState, e: HoldPlaced) -> Applied:
    if state.find_hold(e.hold_id) is not None:
        return Applied(state, "duplicate")
    if len(state.holds) >= limits.OPEN_HOLDS_PER_SKU_MAX:
        raise InvariantBroken("hold_placed past OPEN_HOLDS_PER_SKU_MAX (decide checks it)")
    before = state.position(e.location)
    after = before._replace(reserved=before.reserved + e.qty)
    decision = _decision(e, "reserve", e.location)
    hold = Hold(
        e.hold_id, e.request_id, e.channel, e.location, e.qty, e.expires_at, "pending", decision
    )
    positions = {**state.positions, e.location: after}
    holds = {**state.holds, e.hold_id: hold}
    decisions = _bounded_put(state.decisions, e.request_id, decision, limits.DECISIONS_PER_SKU_MAX)
    return Applied(
        _with(state, e.occurred_at, positions, holds, state.resolved, decisions), "applied"
    )


def _resolve(state: SkuState, e: HoldEventUnion, status: HoldStatus) -> Applied:
    hold = state.holds.get(e.hold_id)
    if hold is None:
        done = state.resolved.get(e.hold_id)
        if done is not None and done.status != status:
            raise InvariantBroken(f"hold {e.hold_id} is {done.status}, event says {status}")
        return Applied(state, "duplicate")  # already resolved, or evicted long ago
    assert hold.location is not None
    before = state.position(hold.location)
    reserved = before.reserved - hold.qty
    committed = before.committed + (hold.qty if status == "committed" else 0)
    positions = {
        **state.positions,
        hold.location: before._replace(reserved=reserved, committed=committed),
    }
    _check_position(positions[hold.location])
    holds = {k: v for k, v in state.holds.items() if k != e.hold_id}
    resolved = _bounded_put(
        state.resolved, e.hold_id, hold._replace(status=status), limits.RESOLVED_HOLDS_PER_SKU_MAX
    )
    decisions = state.decisions
    if isinstance(e, HoldCommitted | HoldReleased):
        command: Literal["commit", "release"] = "commit" if status == "committed" else "release"
        decision = _decision(e, command, hold.location)
        decisions = _bounded_put(decisions, e.request_id, decision, limits.DECISIONS_PER_SKU_MAX)
    return Applied(_with(state, e.occurred_at, positions, holds, resolved, decisions), "applied")


def _rejected(state: SkuState, e: CommandRejected) -> Applied:
    if e.request_id in state.decisions:
        return Applied(state, "duplicate")
    decision = Decision(
        request_id=e.request_id,
        hold_id=e.hold_id,
        sku=e.sku,
        command=e.command,
        outcome="rejected",
        reason=e.reason,
        location=e.location,
        available_after=e.available_after,
        decided_at=e.occurred_at,
    )
    decisions = _bounded_put(state.decisions, e.request_id, decision, limits.DECISIONS_PER_SKU_MAX)
    resolved = state.resolved
    if e.command == "reserve" and state.find_hold(e.hold_id) is None:
        hold = Hold(e.hold_id, e.request_id, "", e.location, 0, None, "rejected", decision)
        resolved = _bounded_put(resolved, e.hold_id, hold, limits.RESOLVED_HOLDS_PER_SKU_MAX)
    new = _with(state, e.occurred_at, state.positions, state.holds, resolved, decisions)
    return Applied(new, "applied")


def _decision(
    e: HoldPlaced | HoldCommitted | HoldReleased,
    command: Literal["reserve", "commit", "release"],
    location: str,
) -> Decision:
    return Decision(
        request_id=e.request_id,
        hold_id=e.hold_id,
        sku=e.sku,
        command=command,
        outcome="accepted",
        location=location,
        available_after=e.available_after,
        decided_at=e.occurred_at,
    )


def _bounded_put(items: Mapping[str, V], key: str, value: V, size_max: int) -> dict[str, V]:
    out = {**items, key: value}
    while len(out) > size_max:
        del out[next(iter(out))]
    return out


def _with(
    state: SkuState,
    at: datetime,
    positions: Mapping[str, Position],
    holds: Mapping[str, Hold],
    resolved: Mapping[str, Hold],
    decisions: Mapping[str, Decision],
) -> SkuState:
    clock = at if state.clock is None or at > state.clock else state.clock
    return state._replace(
        version=state.version + 1,
        clock=clock,
        positions=positions,
        holds=holds,
        resolved=resolved,
        decisions=decisions,
    )


_HOLD_HANDLERS: dict[str, Callable[[SkuState, HoldEventUnion], Applied]] = {
    "hold_placed": _placed,  # type: ignore[dict-item]
    "hold_committed": lambda s, e: _resolve(s, e, "committed"),
    "hold_released": lambda s, e: _resolve(s, e, "released"),
    "hold_expired": lambda s, e: _resolve(s, e, "expired"),
    "command_rejected": _rejected,  # type: ignore[dict-item]
}
