"""evolve(state, event) -> state, and fold = reduce(evolve). Pure, deterministic, no I/O.

Facts are never rejected for what they say about stock: a fact that drives a location's
free units below zero is applied and reported as an oversell of the size it caused. Only
bounds refuse one (`LimitExceeded`): a per-SKU collection full, or units past
QTY_UNITS_MAX (`units_in_bounds`), so every figure a decision reports fits the wire. A fact
whose event_id was seen before, or a hold event the state already reflects, is a duplicate
and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import reduce
from sys import intern
from typing import Literal, NamedTuple

from ledger import limits
from ledger.commands import Decision
from ledger.errors import InvariantBroken, LimitExceeded
from ledger.events import (
    CommandRejected,
    Fact,
    HoldCommitted,
    HoldEventUnion,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    OrderCancelled,
    Received,
    ReturnGraded,
    SupplyCancelled,
    SupplyExpected,
    TransferIn,
    TransferOut,
)
from ledger.state import (
    EMPTY_POSITION,
    Answers,
    Hold,
    HoldStatus,
    Incoming,
    Journal,
    Position,
    SeenIds,
    SkuState,
    answer_of,
    hold_id_of,
    hold_key,
    incoming_key,
    journal_put,
    seen_add,
    with_answer,
)

AnyEvent = Fact | HoldEventUnion
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (same value)


class Applied(NamedTuple):
    """What one event did, for callers that want it spelled out (see `apply_event`)."""

    state: SkuState
    outcome: Literal["applied", "duplicate"]
    oversell_units: int = 0  # size of the oversell this fact caused
    variance_units: int = 0  # cycle count: counted - recorded on-hand


def evolve(state: SkuState, event: AnyEvent) -> SkuState:
    """`state` with one event (fact or hold event) of `state.sku` applied.

    A duplicate returns `state` itself (`evolve(s, e) is s`); anything applied returns a new
    state, version + 1. `state` is never changed. What the event did is in the difference:
    the oversell it caused is `new.oversold_units - state.oversold_units`, a cycle count's
    variance `new.variance_net_units - state.variance_net_units` (`apply_event` spells both
    out).

    Raises `LimitExceeded` (an operating error, bad input) when a fact would grow a per-SKU
    collection past its bound in `ledger.limits`: a new location past LOCATIONS_PER_SKU_MAX
    or a new incoming order past INCOMING_PER_SKU_MAX, or a position's units or an incoming
    order's past QTY_UNITS_MAX (`units_in_bounds`). Nothing is half-applied: the caller
    keeps `state` and reports the fact. Raises `InvariantBroken` for states only a bug can
    produce (an event of another SKU, a negative bucket): crash, do not carry on.
    """
    # The hot path of the whole system, kept flat on purpose (devtools/bench/fold_bench.py). The
    # event's fields are read from its __dict__ (where pydantic keeps them): attribute reads
    # on a BaseModel take CPython's slow path, as BaseModel defines __getattr__. The state is
    # unpacked into locals once and the new one built as one tuple with tuple.__new__ (a
    # NamedTuple's own __new__ is a Python-level function).
    fields = event.__dict__
    kind: str = fields["type"]
    step = _POSITION_STEPS.get(kind)
    if step is None:
        if event.sku != state.sku:
            raise InvariantBroken(f"event for sku {event.sku!r} folded into {state.sku!r}")
        return _HOLD_HANDLERS[kind](state, event)  # type: ignore[arg-type]
    (
        sku,
        version,
        _,
        positions,
        holds,
        resolved,
        decisions,
        incoming,
        fresh,
        fresh_count,
        chunks,
        seen_first_seq,
        oversold_units,
        oversells,
        counts,
        counts_exact,
        variance_net_units,
        variance_abs_units,
    ) = state
    if fields["sku"] != sku:
        raise InvariantBroken(f"event for sku {fields['sku']!r} folded into {sku!r}")
    event_id: str = fields["event_id"]
    # A bare substring test first: a new id is ruled out without building a string.
    if event_id in fresh and f"\x00{event_id}\x00" in fresh:
        return state
    for chunk in chunks:
        if event_id in chunk:
            return state
    location: str = fields["location"]
    before = positions.get(location)
    if before is None:
        if len(positions) >= limits.LOCATIONS_PER_SKU_MAX:
            raise LimitExceeded(f"location: sku has {limits.LOCATIONS_PER_SKU_MAX} locations")
        # Shared key objects (cheaper dict copies). Interned only when new: a dict keeps its
        # own key object when an existing key's value is replaced.
        location = intern(location)
        before = EMPTY_POSITION
    incoming_step = _INCOMING_STEPS.get(kind)
    if incoming_step is None:
        buckets = step(before, fields["qty"], event)  # type: ignore[arg-type]
    else:
        fact: Fact = event  # type: ignore[assignment]  # a position step: a fact
        buckets, incoming = _with_incoming(incoming_step, before, step, fact, incoming, holds)
    on_hand, committed, reserved, damaged, inspection = buckets
    if committed < 0 or reserved < 0 or damaged < 0 or inspection < 0:
        raise InvariantBroken(f"negative bucket in {buckets} after {kind}")
    free_after = on_hand - committed - reserved - damaged - inspection
    # Units bounded (see `units_in_bounds`): three compares, on_hand >= -max follows.
    if free_after < _UNITS_MIN or on_hand > _UNITS_MAX or on_hand - free_after > _UNITS_MAX:
        raise LimitExceeded(_units_out_of_bounds(kind, location, buckets))
    positions = {**positions}
    positions[location] = _new(Position, buckets)
    if free_after < 0:
        b_on_hand, b_committed, b_reserved, b_damaged, b_inspection = before
        free_before = b_on_hand - b_committed - b_reserved - b_damaged - b_inspection
        oversell = (free_before if free_before < 0 else 0) - free_after  # only what it caused
        if oversell > 0:
            oversold_units += oversell
            oversells += 1
    if kind == "counted":
        variance = on_hand - before.on_hand
        counts += 1
        counts_exact += variance == 0
        variance_net_units += variance
        variance_abs_units += abs(variance)
    if fresh_count < _SEEN_IDS_FRESH_MAX:
        fresh = f"{fresh}{event_id}\x00"
        fresh_count += 1
    else:
        seen = seen_add(SeenIds(fresh, fresh_count, chunks, seen_first_seq), event_id)
        fresh, fresh_count, chunks, seen_first_seq = seen
    stamp = fields["ingested_at"]  # the log time: the gateway stamp when present
    return _new(
        SkuState,
        (
            sku,
            version + 1,
            fields["occurred_at"] if stamp is None else stamp,
            positions,
            holds,
            resolved,
            decisions,
            incoming,
            fresh,
            fresh_count,
            chunks,
            seen_first_seq,
            oversold_units,
            oversells,
            counts,
            counts_exact,
            variance_net_units,
            variance_abs_units,
        ),
    )


def apply_event(state: SkuState, event: AnyEvent) -> Applied:
    """`evolve`, with its outcome, the oversell it caused and a count's variance spelled out.

    Raises as `evolve` does.
    """
    after = evolve(state, event)
    if after is state:
        return Applied(state, "duplicate")
    return Applied(
        after,
        "applied",
        after.oversold_units - state.oversold_units,
        after.variance_net_units - state.variance_net_units,
    )


def fold(events: Iterable[AnyEvent], state: SkuState) -> SkuState:
    """`state` with `events` applied in order (duplicates change nothing).

    Raises `LimitExceeded` and `InvariantBroken` as `evolve` does; after a LimitExceeded
    the events before the refused one are lost with the exception (fold a SKU's events one
    at a time with `evolve` to keep them).
    """
    return reduce(evolve, events, state)


_SEEN_IDS_FRESH_MAX = limits.SEEN_IDS_FRESH_MAX  # a module global: one lookup, not two
_UNITS_MAX = limits.QTY_UNITS_MAX
_UNITS_MIN = -limits.QTY_UNITS_MAX


def units_in_bounds(position: Position) -> bool:
    """Whether a position keeps every figure the ledger reports within +-QTY_UNITS_MAX.

    on_hand, the units held back (committed + reserved + damaged + inspection) and free all
    stay within the bound, so every available figure fits the wire's SignedUnits. Holds
    keep it: a hold is placed only on free units, a commit moves reserved to committed, and
    a release or an expiry only frees units. `evolve` refuses a fact that would break it.
    """
    free = position.free_units
    return (
        free >= _UNITS_MIN
        and position.on_hand <= _UNITS_MAX
        and position.on_hand - free <= _UNITS_MAX
    )


def _units_out_of_bounds(kind: str, location: str, buckets: Buckets) -> str:
    on_hand, committed, reserved, damaged, inspection = buckets
    held = committed + reserved + damaged + inspection
    return (
        f"qty: {kind} at {location} would leave on_hand {on_hand}, held back {held}, "
        f"free {on_hand - held}; each must stay within +-{limits.QTY_UNITS_MAX} units"
    )


# --- facts ---------------------------------------------------------------------------------


class IncomingChange(NamedTuple):
    """What a fact does to one incoming entry: its new value (None: gone), units of waiting
    backorders that arrived (to the position's committed / reserved), and units of the
    fact taken from a backorder instead of the position (a cancelled backorder)."""

    key: str
    item: Incoming | None
    committed: int = 0
    reserved: int = 0
    from_supply: int = 0


_Holds = Mapping[str, Hold]
IncomingStep = Callable[[Fact, Mapping[str, Incoming], _Holds], IncomingChange | None]


def _with_incoming(
    incoming_step: IncomingStep,
    before: Position,
    step: PositionStep,
    event: Fact,
    incoming: Mapping[str, Incoming],
    holds: _Holds,
) -> tuple[Buckets, Mapping[str, Incoming]]:
    """The buckets and incoming entries after a fact that changes what is expected."""
    change = incoming_step(event, incoming, holds)
    if change is None:
        return step(before, event.qty, event), incoming
    buckets = step(before, event.qty - change.from_supply, event)
    if change.committed or change.reserved:
        on_hand, committed, reserved, damaged, inspection = buckets
        buckets = (
            on_hand,
            committed + change.committed,
            reserved + change.reserved,
            damaged,
            inspection,
        )
    return buckets, _incoming_with(incoming, change)  # may raise LimitExceeded


def _incoming_with(
    incoming: Mapping[str, Incoming], change: IncomingChange
) -> Mapping[str, Incoming]:
    key, item = change.key, change.item
    if item is None:
        return {k: v for k, v in incoming.items() if k != key}
    if key not in incoming and len(incoming) >= limits.INCOMING_PER_SKU_MAX:
        raise LimitExceeded(f"order_id: sku has {limits.INCOMING_PER_SKU_MAX} incoming orders")
    return {**incoming, key: item}


def _check_position(p: Position) -> None:
    if p.committed < 0 or p.reserved < 0 or p.damaged < 0 or p.inspection < 0:
        raise InvariantBroken(f"negative bucket in {p}")


_Incoming = Mapping[str, Incoming]


# A position step: the buckets (on_hand, committed, reserved, damaged, inspection) after a
# fact of `qty` units. A plain tuple, made a Position once by `evolve`.
Buckets = tuple[int, int, int, int, int]
PositionStep = Callable[[Position, int, Fact], Buckets]


def _plus(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    return (on_hand + qty, committed, reserved, damaged, inspection)


def _minus(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    return (on_hand - qty, committed, reserved, damaged, inspection)


def _shipped(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    committed = committed - qty if committed > qty else 0  # fulfils committed orders first
    return (on_hand - qty, committed, reserved, damaged, inspection)


def _counted(p: Position, qty: int, e: Fact) -> Buckets:
    _, committed, reserved, damaged, inspection = p
    return (qty, committed, reserved, damaged, inspection)


def _damaged(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    return (on_hand, committed, reserved, damaged + qty, inspection)


def _return_received(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    return (on_hand + qty, committed, reserved, damaged, inspection + qty)


def _return_graded(p: Position, qty: int, e: ReturnGraded) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    # Units graded beyond those awaiting inspection were received at grading time.
    from_inspection = min(inspection, qty)
    on_hand += qty - from_inspection
    if e.disposition == "damaged":
        damaged += qty
    elif e.disposition == "dispose":
        on_hand -= qty
    return (on_hand, committed, reserved, damaged, inspection - from_inspection)


def _order_placed(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    return (on_hand, committed + qty, reserved, damaged, inspection)


def _order_cancelled(p: Position, qty: int, e: Fact) -> Buckets:
    on_hand, committed, reserved, damaged, inspection = p
    committed = committed - qty if committed > qty else 0
    return (on_hand, committed, reserved, damaged, inspection)


def _unchanged(p: Position, qty: int, e: Fact) -> Buckets:
    return p


_POSITION_STEPS: dict[str, PositionStep] = {
    "received": _plus,
    "shipped": _shipped,
    "sold_in_store": _minus,
    "adjusted": _plus,  # qty is signed
    "counted": _counted,
    "damaged": _damaged,
    "transfer_out": _minus,
    "transfer_in": _plus,
    "return_received": _return_received,
    "return_graded": _return_graded,  # type: ignore[dict-item]
    "order_placed": _order_placed,
    "order_cancelled": _order_cancelled,
    "supply_expected": _unchanged,  # incoming only: never available
    "supply_cancelled": _unchanged,
}


def _kept(key: str, item: Incoming) -> IncomingChange:
    """`item` as it is now: dropped once nothing is expected and nothing waits on it."""
    if item.qty <= 0 and not item.backorders:
        return IncomingChange(key, None)
    return IncomingChange(key, item)


def _arrive(inc: _Incoming, holds: _Holds, key: str, qty: int) -> IncomingChange | None:
    """Units of an expected order arrived: what waits on it moves to the position, oldest
    first (committed backorders to committed, pending ones to reserved); the rest is free."""
    item = inc.get(key)
    if item is None:
        return None
    left = qty
    committed = reserved = 0
    waiting: dict[str, int] = {}
    for hold_id, units in item.backorders.items():
        take = min(units, left)
        left -= take
        if hold_id in holds:
            reserved += take
        else:
            committed += take
        if units > take:
            waiting[hold_id] = units - take
    arrived = item._replace(qty=max(0, item.qty - qty), backorders=waiting)
    return _kept(key, arrived)._replace(committed=committed, reserved=reserved)


def _received_incoming(e: Received, inc: _Incoming, holds: _Holds) -> IncomingChange | None:
    if e.order_id is None:
        return None
    return _arrive(inc, holds, incoming_key("supply", e.location, e.order_id), e.qty)


def _transfer_out_incoming(e: TransferOut, inc: _Incoming, holds: _Holds) -> IncomingChange:
    key = incoming_key("transfer", e.target_location, e.order_id)
    item = inc.get(key)
    if item is None:
        new = Incoming("transfer", e.order_id, e.target_location, e.qty, e.eta, e.location)
        return IncomingChange(key, new)
    qty = item.qty + e.qty
    if qty > _UNITS_MAX:
        raise LimitExceeded(f"qty: transfer {e.order_id} would carry {qty} units in transit")
    eta = item.eta if e.eta is None else e.eta
    return IncomingChange(key, item._replace(qty=qty, eta=eta))


def _transfer_in_incoming(e: TransferIn, inc: _Incoming, holds: _Holds) -> IncomingChange | None:
    return _arrive(inc, holds, incoming_key("transfer", e.location, e.order_id), e.qty)


def _supply_incoming(e: SupplyExpected, inc: _Incoming, holds: _Holds) -> IncomingChange:
    """Expected units and ETA, set (again: a late or changed receipt); promises are kept."""
    key = incoming_key("supply", e.location, e.order_id)
    item = inc.get(key)
    backorders = {} if item is None else item.backorders
    return IncomingChange(
        key, Incoming("supply", e.order_id, e.location, e.qty, e.eta, None, backorders)
    )


def _supply_cancelled_incoming(
    e: SupplyCancelled, inc: _Incoming, holds: _Holds
) -> IncomingChange | None:
    """Fewer units will come; what waits on them is left waiting (uncovered) for its order
    to move (docs/PROMISE.md)."""
    key = incoming_key("supply", e.location, e.order_id)
    item = inc.get(key)
    if item is None:
        return None
    return _kept(key, item._replace(qty=max(0, item.qty - e.qty)))


def _order_cancelled_incoming(
    e: OrderCancelled, inc: _Incoming, holds: _Holds
) -> IncomingChange | None:
    """A cancelled backorder: its units still waiting are released from the supply. The fact
    names the hold by id, not channel: the first hold of that id waiting at the location."""
    if e.hold_id is None:
        return None
    for key, item in inc.items():
        if item.location != e.location:
            continue
        for hold, units in item.backorders.items():
            if hold_id_of(hold) != e.hold_id:
                continue
            from_supply = min(units, e.qty)
            waiting = {h: u for h, u in item.backorders.items() if h != hold}
            if units > from_supply:
                waiting[hold] = units - from_supply
            change = _kept(key, item._replace(backorders=waiting))
            return change._replace(from_supply=from_supply)
    return None


_INCOMING_STEPS: dict[str, IncomingStep] = {
    "received": _received_incoming,  # type: ignore[dict-item]
    "transfer_out": _transfer_out_incoming,  # type: ignore[dict-item]
    "transfer_in": _transfer_in_incoming,  # type: ignore[dict-item]
    "supply_expected": _supply_incoming,  # type: ignore[dict-item]
    "supply_cancelled": _supply_cancelled_incoming,  # type: ignore[dict-item]
    "order_cancelled": _order_cancelled_incoming,  # type: ignore[dict-item]
}


# --- hold events ---------------------------------------------------------------------------


def _placed(state: SkuState, e: HoldPlaced) -> SkuState:
    if state.find_hold(e.channel, e.hold_id) is not None:
        return state
    if len(state.holds) >= limits.OPEN_HOLDS_PER_SKU_MAX:
        raise InvariantBroken("hold_placed past OPEN_HOLDS_PER_SKU_MAX (decide checks it)")
    before = state.position(e.location)
    after = before._replace(reserved=before.reserved + e.qty - e.waiting)
    incoming = state.incoming
    eta = None
    if e.supply is not None:
        item = incoming.get(e.supply)
        if item is None or item.location != e.location:
            raise InvariantBroken(f"hold {e.hold_id} waits on {e.supply!r}, not expected there")
        eta = item.eta
        waiting = {**item.backorders, hold_key(e.channel, e.hold_id): e.waiting}
        incoming = {**incoming, e.supply: item._replace(backorders=waiting)}
    decision = _decision(e, "reserve", e.location)
    if e.supply is not None:
        decision = decision.model_copy(update={"waiting": e.waiting, "eta": eta})
    hold = Hold(
        e.hold_id,
        e.request_id,
        e.channel,
        e.location,
        e.qty,
        e.expires_at.astimezone(UTC),
        "pending",
        decision,
        e.supply,
    )
    positions = {**state.positions, e.location: after}
    holds = {**state.holds, hold_key(e.channel, e.hold_id): hold}
    decisions = with_answer(state.decisions, decision)
    placed = _with(state, e.occurred_at, positions, holds, state.resolved, decisions)
    return placed if incoming is state.incoming else placed._replace(incoming=incoming)


def _resolve(
    state: SkuState, e: HoldCommitted | HoldReleased | HoldExpired, status: HoldStatus
) -> SkuState:
    key = hold_key(e.channel, e.hold_id)
    hold = state.holds.get(key)
    if hold is None:
        done = state.resolved.get(key)
        if done is not None and done.status != status:
            raise InvariantBroken(f"hold {e.hold_id} is {done.status}, event says {status}")
        return state  # already resolved, or evicted long ago
    assert hold.location is not None
    on_hand = hold.qty - state.waiting_units(hold)  # the rest still waits on its supply
    before = state.position(hold.location)
    reserved = before.reserved - on_hand
    committed = before.committed + (on_hand if status == "committed" else 0)
    positions = {
        **state.positions,
        hold.location: before._replace(reserved=reserved, committed=committed),
    }
    _check_position(positions[hold.location])
    holds = {k: v for k, v in state.holds.items() if k != key}
    resolved = journal_put(
        state.resolved, key, hold._replace(status=status), limits.RESOLVED_HOLDS_PER_SKU_MAX
    )
    decisions = state.decisions
    if isinstance(e, HoldCommitted | HoldReleased):
        command: Literal["commit", "release"] = "commit" if status == "committed" else "release"
        decision = _decision(e, command, hold.location)
        decisions = with_answer(decisions, decision)
    after = _with(state, e.occurred_at, positions, holds, resolved, decisions)
    if hold.supply is not None and status != "committed":
        return after._replace(incoming=_without_backorder(state.incoming, hold))
    return after  # a committed backorder keeps waiting on its supply


def _without_backorder(incoming: Mapping[str, Incoming], hold: Hold) -> Mapping[str, Incoming]:
    """`incoming` with a released or expired hold no longer waiting on its supply."""
    assert hold.supply is not None
    key = hold_key(hold.channel, hold.hold_id)
    item = incoming.get(hold.supply)
    if item is None or key not in item.backorders:
        return incoming
    waiting = {h: u for h, u in item.backorders.items() if h != key}
    change = _kept(hold.supply, item._replace(backorders=waiting))
    return _incoming_with(incoming, change)


def _rejected(state: SkuState, e: CommandRejected) -> SkuState:
    if answer_of(state.decisions, e.channel, e.request_id) is not None:
        return state
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
        channel=e.channel,
    )
    decisions = with_answer(state.decisions, decision)
    resolved = state.resolved
    channel = e.channel
    # A reserve always names its channel; its refused hold_id answers with this decision.
    if e.command == "reserve" and channel is not None and not state.find_hold(channel, e.hold_id):
        hold = Hold(e.hold_id, e.request_id, channel, e.location, 0, None, "rejected", decision)
        key = hold_key(channel, e.hold_id)
        resolved = journal_put(resolved, key, hold, limits.RESOLVED_HOLDS_PER_SKU_MAX)
    return _with(state, e.occurred_at, state.positions, state.holds, resolved, decisions)


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
        channel=e.channel if isinstance(e, HoldPlaced) else e.request_channel,
    )


def _with(
    state: SkuState,
    at: datetime,
    positions: Mapping[str, Position],
    holds: Mapping[str, Hold],
    resolved: Journal[Hold],
    decisions: Journal[Answers],
) -> SkuState:
    return state._replace(
        version=state.version + 1,
        clock=at,
        positions=positions,
        holds=holds,
        resolved=resolved,
        decisions=decisions,
    )


_HOLD_HANDLERS: dict[str, Callable[[SkuState, HoldEventUnion], SkuState]] = {
    "hold_placed": _placed,  # type: ignore[dict-item]
    "hold_committed": lambda s, e: _resolve(s, e, "committed"),  # type: ignore[arg-type]
    "hold_released": lambda s, e: _resolve(s, e, "released"),  # type: ignore[arg-type]
    "hold_expired": lambda s, e: _resolve(s, e, "expired"),  # type: ignore[arg-type]
    "command_rejected": _rejected,  # type: ignore[dict-item]
}
