"""step(state, record, rules) -> the order's next state and what to send: the allocation saga.

plan -> reserve each planned line at its location (and take the location's capacity) ->
when a line is refused, re-plan only the unfilled lines, excluding what failed, within a
bounded number of rounds -> commit every hold -> allocated; or refused as a whole with every
hold it took released. Cancel and pick rejection give units back; a rejection re-routes.

Pure and deterministic: the ids it sends derive from the order and the step, its clock is
the records' `issued_at`, so a replay of the log sends the same asks and reaches the same
state. A record that does not apply (a duplicate, a stale plan or timeout, an answer to a
hold no longer waiting) changes nothing and sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.commands import Commit, Decision, Release, Reserve
from ledger.events import OrderCancelled, Shipped
from ledger.orders import ids
from ledger.orders.promise_steps import (
    Delivery,
    NeedDates,
    announce,
    ask_dates,
    dated,
    delivered,
    supply_noticed,
)
from ledger.orders.records import (
    CancelOrder,
    CapacityAnswer,
    CapacityAsk,
    Dated,
    MarkDelivered,
    MarkPicked,
    MarkShipped,
    OrderDecision,
    OrderLine,
    OrderRecordUnion,
    PlaceOrder,
    Planned,
    RejectPick,
    SupplyNotice,
    Timeout,
)
from ledger.orders.state import (
    PLANS_KEPT_MAX,
    TERMINAL,
    AdoptedPlan,
    CapacitySlot,
    HoldLine,
    HoldStatus,
    OrderState,
    PickRejection,
    ShipmentPromise,
    replace_holds,
    stamp,
)

SOURCE = "tally-orders"  # the `source` of the facts the saga emits


@dataclass(frozen=True)
class SagaRules:
    """Bounds of the saga (from the settings; every one named and checked there)."""

    hold_ttl_s: int = 900
    rounds_max: int = 3
    reroutes_max: int = 3
    # Timeouts of a reserve or capacity ask before the saga stops waiting and re-plans
    # (commits and releases are asked again for ever: their outcome must be known).
    ask_retries_max: int = 3


@dataclass(frozen=True)
class NeedPlan:
    """Compute plan `plan_seq` for `lines`, keeping `fixed`, avoiding what failed."""

    ref: str
    plan_seq: int
    lines: tuple[OrderLine, ...]
    fixed: tuple[tuple[str, tuple[OrderLine, ...]], ...]
    excluded: tuple[tuple[str, str], ...]
    excluded_locations: tuple[str, ...]
    shipments_max: int


@dataclass(frozen=True)
class CountTask:
    """A store's count of `sku` is suspect: count it (a pick was rejected there)."""

    location: str
    sku: str
    reason: str
    ref: str
    at: datetime


Command = Reserve | Commit | Release
OrderFact = OrderCancelled | Shipped


@dataclass
class Outputs:
    commands: list[Command] = field(default_factory=list)
    facts: list[OrderFact] = field(default_factory=list)
    capacity: list[CapacityAsk] = field(default_factory=list)
    plans: list[NeedPlan] = field(default_factory=list)
    count_tasks: list[CountTask] = field(default_factory=list)
    dates: list[NeedDates] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.commands or self.facts or self.capacity or self.plans or self.dates)


@dataclass(frozen=True)
class Stepped:
    state: OrderState | None
    outputs: Outputs
    changed: bool


def step(state: OrderState | None, record: OrderRecordUnion, rules: SagaRules) -> Stepped:
    if state is None:
        if isinstance(record, PlaceOrder):
            return _placed(record)
        return Stepped(None, Outputs(), False)  # a step of an order never placed: nothing
    out = Outputs()
    after = _apply(state, record, rules, out)
    if after is state:
        return Stepped(state, out, False)
    after = _follow_supply(after, record.issued_at, rules, out)
    return Stepped(announce(ask_dates(after, record.issued_at, out.dates)), out, True)


def _apply(
    state: OrderState, record: OrderRecordUnion, rules: SagaRules, out: Outputs
) -> OrderState:
    if isinstance(record, Planned):
        return _adopt(state, record, rules, out)
    if isinstance(record, OrderDecision):
        return _decided(state, record, rules, out)
    if isinstance(record, CapacityAnswer):
        return _capacity_answered(state, record, rules, out)
    if isinstance(record, Timeout):
        return _timed_out(state, record, rules, out)
    if isinstance(record, CancelOrder):
        return _cancel(state, record, out)
    if isinstance(record, RejectPick):
        return _reject_pick(state, record, rules, out)
    if isinstance(record, MarkPicked):
        return _picked(state, record)
    if isinstance(record, MarkShipped):
        return _shipped(state, record, out)
    if isinstance(record, SupplyNotice):
        return supply_noticed(state, record)
    if isinstance(record, Dated):
        return dated(state, record)
    if isinstance(record, MarkDelivered):
        return delivered(state, record, out.delivered)
    return state  # a repeated `place`: the order exists


# --- placing and planning ----------------------------------------------------------------


def _placed(record: PlaceOrder) -> Stepped:
    state = OrderState.placed(record)
    out = Outputs()
    out.plans.append(_need_plan(state))
    return Stepped(state, out, True)


def _reroute(state: OrderState, after: OrderState, at: datetime, out: Outputs) -> OrderState:
    """Ask for a new plan of what is left, spending a reroute; only a later plan is adopted."""
    rerouting = stamp(
        after,
        at,
        status="allocating",
        phase="await_plan",
        reroutes=state.reroutes + 1,
        pass_first_plan=state.plan_seq + 1,
    )
    out.plans.append(_need_plan(rerouting))
    return rerouting


def _need_plan(state: OrderState) -> NeedPlan:
    held: dict[str, list[OrderLine]] = {}
    for hold in state.holds:
        if hold.status in ("held", "committing", "committed"):
            held.setdefault(hold.location, []).append(OrderLine(sku=hold.sku, qty=hold.qty))
    return NeedPlan(
        ref=state.ref,
        plan_seq=state.plan_seq + 1,
        lines=state.unfilled(),
        fixed=tuple((loc, tuple(lines)) for loc, lines in held.items()),
        excluded=state.excluded,
        excluded_locations=state.excluded_locations,
        shipments_max=state.max_shipments,
    )


def _adopt(state: OrderState, plan: Planned, rules: SagaRules, out: Outputs) -> OrderState:
    """The first plan of the awaited number is adopted: its holds are asked for."""
    if state.phase != "await_plan" or plan.plan_seq != state.plan_seq + 1:
        return state  # a repeated or stale plan
    new_holds: list[HoldLine] = []
    for shipment in plan.shipments:
        for line in shipment.lines:
            hold = HoldLine(
                hold_id=ids.hold_id(state.ref, plan.plan_seq, len(new_holds)),
                sku=line.sku,
                location=shipment.location,
                qty=line.qty,
                plan_seq=plan.plan_seq,
            )
            new_holds.append(hold)
            out.commands.append(_reserve(state, hold, plan.issued_at, rules))
    slots = list(state.capacity)
    holding_slot = {slot.location for slot in slots if slot.status in ("asked", "taken")}
    for shipment in plan.shipments:
        if shipment.location not in holding_slot:
            slot = CapacitySlot(location=shipment.location, day=shipment.capacity_day)
            slots.append(slot)
            out.capacity.append(
                _capacity_ask("take", state, slot.location, slot.day, plan.issued_at)
            )
            holding_slot.add(shipment.location)
    promises = {
        shipment.location: ShipmentPromise(
            ship_on=shipment.ship_on,
            deliver_on=shipment.deliver_on,
            ready_at=shipment.ready_at,
            waits_until=shipment.waits_until,
        )
        for shipment in plan.shipments
    }
    adopted = stamp(
        state,
        plan.issued_at,
        status="allocating",
        phase="reserving",
        plan_seq=plan.plan_seq,
        holds=(*state.holds, *new_holds),
        capacity=tuple(slots),
        plans=(*state.plans, AdoptedPlan.of(plan))[-PLANS_KEPT_MAX:],
        promises={**state.promises, **promises},
    )
    return _advance(adopted, plan.issued_at, rules, out)


# --- answers -------------------------------------------------------------------------------


def _decided(
    state: OrderState, record: OrderDecision, rules: SagaRules, out: Outputs
) -> OrderState:
    decision = record.decision
    hold = state.find_hold(decision.hold_id)
    # Hold ids are each channel's own: another channel's hold of the same id (a channel
    # may name its holds as it likes) is not this order's.
    if hold is None or decision.channel != state.channel:
        return state
    after = _hold_answered(state, hold, decision, record.issued_at, out)
    if after is state:
        return state
    return _advance(after, record.issued_at, rules, out)


def _hold_answered(
    state: OrderState, hold: HoldLine, decision: Decision, at: datetime, out: Outputs
) -> OrderState:
    accepted = decision.outcome == "accepted"
    request = decision.request_id
    if request == ids.reserve_request(hold.hold_id):
        if hold.status == "asked":
            if accepted:
                held = {"status": "held", "waiting": decision.waiting, "eta": decision.eta}
                return _with_hold(state, hold.model_copy(update=held), at)
            return _refused(state, hold, at)
        if accepted and hold.status in ("refused", "released"):
            # The reserve landed after the saga stopped waiting for it: give it back.
            return _release(state, [hold], at, out)
        return state
    if request == ids.commit_request(hold.hold_id) and hold.status == "committing":
        if accepted:
            return _with_hold(state, hold.model_copy(update={"status": "committed"}), at)
        refused = hold.model_copy(update={"status": "commit_refused"})
        return _exclude(_with_hold(state, refused, at), hold.sku, hold.location)
    if hold.status == "releasing" and request == ids.release_request(
        hold.hold_id, hold.release_attempts
    ):
        return _with_hold(state, hold.model_copy(update={"status": "released"}), at)
    return state


def _capacity_answered(
    state: OrderState, record: CapacityAnswer, rules: SagaRules, out: Outputs
) -> OrderState:
    slot = next(
        (s for s in state.capacity if (s.location, s.day) == (record.location, record.day)),
        None,
    )
    if slot is None or slot.status != "asked":
        if slot is not None and slot.status == "given_back" and record.outcome == "accepted":
            out.capacity.append(
                _capacity_ask("give", state, slot.location, slot.day, record.issued_at)
            )
        return state
    taken = record.outcome == "accepted"
    after = _with_slot(state, slot, "taken" if taken else "refused", record.issued_at)
    if not taken:
        # A full location: its holds of this order go back, and it is not planned again.
        waiting = [
            h for h in after.holds if h.location == slot.location and h.status in ("asked", "held")
        ]
        after = _release(after, waiting, record.issued_at, out)
        after = after.model_copy(
            update={"excluded_locations": (*after.excluded_locations, slot.location)}
        )
    return _advance(after, record.issued_at, rules, out)


# --- moving on -------------------------------------------------------------------------------


def _advance(state: OrderState, at: datetime, rules: SagaRules, out: Outputs) -> OrderState:
    """After an answer: wait for the rest of the round, or re-plan, commit, or finish."""
    if state.phase not in ("reserving", "committing") or state.waiting():
        return state
    unfilled = state.unfilled()
    if _something_failed(state, unfilled) and state.rounds_used < rules.rounds_max:
        replanning = stamp(state, at, phase="await_plan")
        out.plans.append(_need_plan(replanning))
        return replanning
    to_commit = [h for h in state.holds if h.status == "held"]
    if unfilled and not state.allow_partial:
        return _give_everything_back(state, at, out, "refused")
    if not any(h.status in ("held", "committed") for h in state.holds):
        return _give_everything_back(state, at, out, "refused")
    if to_commit:
        out.commands += [_commit(state, hold, at) for hold in to_commit]
        committing = {h.hold_id: h.model_copy(update={"status": "committing"}) for h in to_commit}
        return stamp(state, at, phase="committing", holds=replace_holds(state.holds, committing))
    status = "allocated" if not unfilled else "partially_allocated"
    shipments = {loc: "allocated" for loc in _committed_locations(state)}
    shipments.update(state.shipments)
    return stamp(state, at, phase="settled", status=status, shipments=shipments)


def _something_failed(state: OrderState, unfilled: tuple[OrderLine, ...]) -> bool:
    """More is unfilled than the last plan left unfilled: a line was refused since (the
    plan itself already did its best with the stock it saw, so a re-plan needs a failure)."""
    planned_unfilled = sum(line.qty for line in state.plans[-1].unfilled) if state.plans else 0
    return sum(line.qty for line in unfilled) > planned_unfilled


def _timed_out(state: OrderState, record: Timeout, rules: SagaRules, out: Outputs) -> OrderState:
    """No answer since version `record.step`: ask again (same ids); after
    `ask_retries_max`, stop waiting for reserves and capacity (they are released)."""
    if record.step != state.version or not state.waiting():
        return state
    at = record.issued_at
    tries = state.timeouts + 1
    if state.phase == "await_plan":
        out.plans.append(_need_plan(state))
        return _bump(state, at, tries)
    giving_up = tries > rules.ask_retries_max
    asked = [h for h in state.holds if h.status == "asked"]
    slots = [s for s in state.capacity if s.status == "asked"]
    if giving_up and (asked or slots):
        after = _release(state, asked, at, out)
        for slot in slots:
            after = _with_slot(after, slot, "refused", at)
        for hold in asked:
            after = _exclude(after, hold.sku, hold.location)
        return _advance(after, at, rules, out)
    _ask_again(state, at, rules, out)
    return _bump(state, at, tries)


def _ask_again(state: OrderState, at: datetime, rules: SagaRules, out: Outputs) -> None:
    for hold in state.holds:
        if hold.status == "asked":
            out.commands.append(_reserve(state, hold, at, rules))
        elif hold.status == "committing":
            out.commands.append(_commit(state, hold, at))
        elif hold.status == "releasing":
            out.commands.append(_release_command(state, hold, hold.release_attempts, at))
    for slot in state.capacity:
        if slot.status == "asked":
            out.capacity.append(_capacity_ask("take", state, slot.location, slot.day, at))


def _bump(state: OrderState, at: datetime, tries: int) -> OrderState:
    return state.model_copy(
        update={"version": state.version + 1, "updated_at": at, "timeouts": tries}
    )


# --- giving back -----------------------------------------------------------------------------


def _cancel(state: OrderState, record: CancelOrder, out: Outputs) -> OrderState:
    if state.status in TERMINAL:
        return state
    return _give_everything_back(state, record.issued_at, out, "cancelled")


def _give_everything_back(state: OrderState, at: datetime, out: Outputs, status: str) -> OrderState:
    """Release pending holds, give committed units and capacity back, and close."""
    pending = [h for h in state.holds if h.status in ("asked", "held", "committing")]
    after = _release(state, pending, at, out)
    after = _uncommit(after, [h for h in after.holds if h.status == "committed"], at, out)
    for slot in after.capacity:
        if slot.status in ("asked", "taken"):
            out.capacity.append(_capacity_ask("give", after, slot.location, slot.day, at))
            after = _with_slot(after, slot, "given_back", at)
    return stamp(after, at, status=status, phase="closed")


def _reject_pick(
    state: OrderState, record: RejectPick, rules: SagaRules, out: Outputs
) -> OrderState:
    at = record.issued_at
    committed = [h for h in state.holding_at(record.location) if h.status == "committed"]
    if not committed or state.shipments.get(record.location) in ("shipped", "rejected"):
        return state
    after = _uncommit(state, committed, at, out)
    rejection = PickRejection(
        location=record.location,
        reason=record.reason,
        note=record.note,
        lines=tuple(OrderLine(sku=h.sku, qty=h.qty) for h in committed),
        at=at,
    )
    for hold in committed:
        out.count_tasks.append(CountTask(record.location, hold.sku, record.reason, state.ref, at))
    for slot in after.capacity:
        if slot.location == record.location and slot.status == "taken":
            out.capacity.append(_capacity_ask("give", after, slot.location, slot.day, at))
            after = _with_slot(after, slot, "given_back", at)
    after = after.model_copy(
        update={
            "rejections": (*after.rejections, rejection),
            "excluded_locations": (*after.excluded_locations, record.location),
            "shipments": {**after.shipments, record.location: "rejected"},
        }
    )
    if state.reroutes >= rules.reroutes_max:
        status = "partially_allocated" if _committed_locations(after) else "refused"
        return stamp(after, at, status=status, phase="settled" if status != "refused" else "closed")
    return _reroute(state, after, at, out)


def _picked(state: OrderState, record: MarkPicked) -> OrderState:
    if state.shipments.get(record.location) != "allocated":
        return state
    shipments = {**state.shipments, record.location: "picked"}
    return stamp(state, record.issued_at, shipments=shipments)


def _shipped(state: OrderState, record: MarkShipped, out: Outputs) -> OrderState:
    if state.shipments.get(record.location) not in ("allocated", "picked"):
        return state
    if state.waits_until(record.location) is not None:
        return state  # units still wait on supply: nothing to ship yet (the gateway says so)
    at = record.issued_at
    shipping = [h for h in state.holding_at(record.location) if h.status == "committed"]
    holds, sent = _facts_for(state, shipping, Shipped, "s", "shipped", at, out)
    shipments = {**state.shipments, record.location: "shipped"}
    done = (
        all(s in ("shipped", "rejected") for s in shipments.values()) and state.phase == "settled"
    )
    return stamp(
        state,
        at,
        holds=holds,
        shipments=shipments,
        facts_sent=sent,
        status="completed" if done else state.status,
        phase="closed" if done else state.phase,
    )


# --- supply: backorders that move, and their dates ---------------------------------------------


def _follow_supply(state: OrderState, at: datetime, rules: SagaRules, out: Outputs) -> OrderState:
    """A settled order whose supply no longer covers a hold gives it back and re-plans those
    lines (elsewhere, or on later supply), like a pick rejection without blaming the place."""
    moving = [h for h in state.holds if h.status == "committed" and h.waiting > 0 and not h.covered]
    if state.phase != "settled" or not moving:
        return state
    after = _uncommit(state, moving, at, out)
    if state.reroutes >= rules.reroutes_max:
        status = "partially_allocated" if _committed_locations(after) else "refused"
        if status == "refused":
            return _give_everything_back(after, at, out, status)
        return stamp(after, at, status=status)
    return _reroute(state, after, at, out)


# --- small steps -----------------------------------------------------------------------------


def _reserve(state: OrderState, hold: HoldLine, at: datetime, rules: SagaRules) -> Reserve:
    return Reserve(
        sku=hold.sku,
        issued_at=at,
        request_id=ids.reserve_request(hold.hold_id),
        hold_id=hold.hold_id,
        channel=state.channel,
        qty=hold.qty,
        ttl_s=rules.hold_ttl_s,
        location=hold.location,
        backorder=state.allow_backorder,  # what is not here may wait on supply
    )


def _commit(state: OrderState, hold: HoldLine, at: datetime) -> Commit:
    return Commit(
        sku=hold.sku,
        issued_at=at,
        request_id=ids.commit_request(hold.hold_id),
        hold_id=hold.hold_id,
        order_id=state.ref,
        channel=state.channel,
    )


def _release_command(state: OrderState, hold: HoldLine, attempt: int, at: datetime) -> Release:
    return Release(
        sku=hold.sku,
        issued_at=at,
        request_id=ids.release_request(hold.hold_id, attempt),
        hold_id=hold.hold_id,
        channel=state.channel,
    )


def _release(
    state: OrderState, holds: Sequence[HoldLine], at: datetime, out: Outputs
) -> OrderState:
    """Send a release for each hold (a new attempt id each time one is sent again)."""
    if not holds:
        return state
    changed: dict[str, HoldLine] = {}
    for hold in holds:
        attempt = hold.release_attempts + 1
        out.commands.append(_release_command(state, hold, attempt, at))
        changed[hold.hold_id] = hold.model_copy(
            update={"status": "releasing", "release_attempts": attempt}
        )
    return stamp(state, at, holds=replace_holds(state.holds, changed))


def _uncommit(
    state: OrderState, holds: Sequence[HoldLine], at: datetime, out: Outputs
) -> OrderState:
    """Give committed units back: an `order_cancelled` fact per hold."""
    if not holds:
        return state
    changed, sent = _facts_for(state, holds, OrderCancelled, "c", "given_back", at, out)
    return stamp(state, at, holds=changed, facts_sent=sent)


def _facts_for(
    state: OrderState,
    holds: Sequence[HoldLine],
    fact: type[Shipped] | type[OrderCancelled],
    kind: str,
    status: HoldStatus,
    at: datetime,
    out: Outputs,
) -> tuple[tuple[HoldLine, ...], int]:
    """A `fact` per hold (ids `<ref>.<kind><n>`, numbered on from the order's last fact), and
    the order's holds with those moved to `status`; returns them and the new fact count."""
    sent = state.facts_sent
    changed: dict[str, HoldLine] = {}
    for hold in holds:
        sent += 1
        # A cancelled backorder names its hold: its units still waiting go back there first.
        named = {"hold_id": hold.hold_id} if fact is OrderCancelled else {}
        out.facts.append(
            fact(
                event_id=ids.fact_id(state.ref, kind, sent),
                sku=hold.sku,
                location=hold.location,
                qty=hold.qty,
                occurred_at=at,
                ingested_at=at,
                source=SOURCE,
                order_id=state.ref,
                **named,
            )
        )
        changed[hold.hold_id] = hold.model_copy(update={"status": status})
    return replace_holds(state.holds, changed), sent


def _refused(state: OrderState, hold: HoldLine, at: datetime) -> OrderState:
    refused = _with_hold(state, hold.model_copy(update={"status": "refused"}), at)
    return _exclude(refused, hold.sku, hold.location)


def _exclude(state: OrderState, sku: str, location: str) -> OrderState:
    if (sku, location) in state.excluded:
        return state
    return state.model_copy(update={"excluded": (*state.excluded, (sku, location))})


def _with_hold(state: OrderState, hold: HoldLine, at: datetime) -> OrderState:
    return stamp(state, at, holds=replace_holds(state.holds, {hold.hold_id: hold}))


def _with_slot(state: OrderState, slot: CapacitySlot, status: str, at: datetime) -> OrderState:
    slots = tuple(
        s.model_copy(update={"status": status}) if s == slot else s for s in state.capacity
    )
    return stamp(state, at, capacity=slots)


def _capacity_ask(
    kind: str, state: OrderState, location: str, day: object, at: datetime
) -> CapacityAsk:
    return CapacityAsk.model_validate(
        {"type": kind, "location": location, "day": day, "ref": state.ref, "issued_at": at}
    )


def _committed_locations(state: OrderState) -> list[str]:
    return sorted({h.location for h in state.holds if h.status in ("committed", "shipped")})


def overdue_after(state: OrderState, timeout_s: float) -> datetime | None:
    """When a timeout is due for this order (None: it waits for nothing)."""
    if not state.waiting():
        return None
    return state.updated_at + timedelta(seconds=timeout_s * (2 ** min(state.timeouts, 6)))
