"""decide(state, command, policies) -> the decision and the hold events that record it.

Pure and deterministic: expiry is judged on log time (`command.issued_at`), so a replay of
the command log gives the same answers. Hold ids and request ids are scoped by channel
(`ledger.state.hold_key`, `answer_of`): a channel reaches only its own holds and its own
first decisions. The caller applies the events with
`ledger.fold.evolve` (or takes `Decided.state`, the same result).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import NamedTuple

from ledger import limits
from ledger.availability import (
    channel_ats,
    location_available,
    pool_ats,
    pool_available,
    position_available,
)
from ledger.commands import Commit, Decision, Expire, Release, Reserve
from ledger.errors import InvariantBroken
from ledger.events import (
    CommandRejected,
    HoldCommitted,
    HoldEventUnion,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    RejectReason,
)
from ledger.fold import fold
from ledger.policy import ChannelPolicy, PolicyBook
from ledger.promise.supply import supply_for
from ledger.state import Hold, SkuState, answer_of

HoldCommand = Reserve | Commit | Release

_RESOLVED_REASON: dict[str, RejectReason] = {
    "committed": "hold_already_committed",
    "released": "hold_already_released",
    "expired": "hold_expired",
    "rejected": "hold_was_rejected",
}


class Decided(NamedTuple):
    decision: Decision | None  # None for Expire
    events: tuple[HoldEventUnion, ...]
    state: SkuState  # `state` with `events` applied


def decide(state: SkuState, command: HoldCommand | Expire, policies: PolicyBook) -> Decided:
    if command.sku != state.sku:
        raise InvariantBroken(f"command for sku {command.sku!r} decided on {state.sku!r}")
    if isinstance(command, Expire):
        expired = expiries(state, command)
        return Decided(None, expired, fold(expired, state))
    first = first_decision(state, command)
    if first is not None:
        return Decided(first, (), state)
    expired = expiries(state, command)
    current = fold(expired, state)
    if isinstance(command, Reserve):
        event = _reserve(current, command, policies)
    else:
        event = _resolve(current, command, policies)
    after = fold((event,), current)
    decision = answer_of(after.decisions, command.channel, command.request_id)
    assert decision is not None  # the event just applied stored it
    _check_accepted(current, after, decision, policies)
    return Decided(decision, (*expired, event), after)


def first_decision(state: SkuState, command: HoldCommand) -> Decision | None:
    """The stored answer to the asking channel's repeated request_id (or, for reserve, its
    repeated hold_id)."""
    decision = answer_of(state.decisions, command.channel, command.request_id)
    if decision is not None or not isinstance(command, Reserve):
        return decision
    hold = state.find_hold(command.channel, command.hold_id)
    return None if hold is None else hold.decision


def expiries(state: SkuState, command: HoldCommand | Expire) -> tuple[HoldExpired, ...]:
    """hold_expired for every pending hold whose expiry is <= the command's log time."""
    now = command.issued_at.astimezone(UTC)  # holds keep UTC: same-tzinfo compares are fast
    due = sorted(
        (hold.expires_at, hold.channel, hold.hold_id)
        for hold in state.holds.values()
        if hold.expires_at is not None and hold.expires_at <= now
    )
    return tuple(
        HoldExpired(sku=state.sku, hold_id=hold_id, channel=channel, occurred_at=expires_at)
        for expires_at, channel, hold_id in due
    )


def _reserve(state: SkuState, cmd: Reserve, policies: PolicyBook) -> HoldEventUnion:
    channel = policies.channels.get(cmd.channel)
    if channel is None:
        return _reject(cmd, "unknown_channel", cmd.location, 0)
    if len(state.holds) >= limits.OPEN_HOLDS_PER_SKU_MAX:
        return _reject(cmd, "too_many_holds", cmd.location, 0)
    if cmd.location is not None:
        return _reserve_at(state, cmd, channel, cmd.location, policies)
    pool = pool_available(state, channel, policies)  # each location asked once (hot SKUs)
    ats = pool_ats(pool, channel)
    if ats < cmd.qty:
        return _reject(cmd, "insufficient_stock", None, ats)
    location = _choose(pool, cmd.qty, channel)
    if location is None:  # the units exist, but not in one place: never split silently
        return _reject(cmd, "split_required", None, ats)
    return _place(state, cmd, location, policies, available=pool[location])


def _reserve_at(
    state: SkuState, cmd: Reserve, channel: ChannelPolicy, location: str, policies: PolicyBook
) -> HoldEventUnion:
    """A hold at a named location (pick up in store, or a channel's own location)."""
    sells = location in channel.locations
    if not sells and location not in channel.pickup_locations:
        return _reject(cmd, "location_not_eligible", location, 0)
    available = location_available(state, location, policies)
    if cmd.backorder:
        return _reserve_backorder(state, cmd, channel, location, policies)
    if available < cmd.qty or (sells and channel_ats(state, channel, policies) < cmd.qty):
        return _reject(cmd, "insufficient_stock", location, available)
    return _place(state, cmd, location, policies)


def _reserve_backorder(
    state: SkuState, cmd: Reserve, channel: ChannelPolicy, location: str, policies: PolicyBook
) -> HoldEventUnion:
    """What the location has now is reserved; the rest waits on the earliest supply there
    with room (never more than a supply's units not yet promised)."""
    available = location_available(state, location, policies)
    now_units = max(0, min(cmd.qty, available))
    if location in channel.locations:
        now_units = min(now_units, channel_ats(state, channel, policies))
    waiting = cmd.qty - now_units
    if waiting == 0:
        return _place(state, cmd, location, policies)
    # An oversold location's deficit takes the first units that come: the supply must cover it.
    deficit = max(0, -available)
    supply = supply_for(state, location, waiting + deficit, cmd.issued_at)
    if supply is None:
        return _reject(cmd, "insufficient_supply", location, available)
    return _place(state, cmd, location, policies, supply, waiting)


def _choose(pool: Mapping[str, int], qty: int, channel: ChannelPolicy) -> str | None:
    """One location of the channel's `pool` (`pool_available`) that can fill `qty` alone, by
    the channel's strategy."""
    fits = [(units, loc) for loc, units in pool.items() if units >= qty]
    if not fits:
        return None
    if channel.strategy == "priority":
        return fits[0][1]
    most = max(units for units, _ in fits)
    return next(loc for units, loc in fits if units == most)  # ties: priority order


def _place(
    state: SkuState,
    cmd: Reserve,
    location: str,
    policies: PolicyBook,
    supply: str | None = None,
    waiting: int = 0,
    available: int | None = None,
) -> HoldPlaced:
    """`available`: `location_available` at `location`, when the caller has it already."""
    if available is None:
        available = location_available(state, location, policies)
    return HoldPlaced(
        sku=cmd.sku,
        hold_id=cmd.hold_id,
        occurred_at=cmd.issued_at,
        request_id=cmd.request_id,
        channel=cmd.channel,
        location=location,
        qty=cmd.qty,
        expires_at=cmd.issued_at + timedelta(seconds=cmd.ttl_s),
        available_after=available - (cmd.qty - waiting),
        supply=supply,
        waiting=waiting,
    )


def _resolve(state: SkuState, cmd: Commit | Release, policies: PolicyBook) -> HoldEventUnion:
    found = _hold_asked_for(state, cmd)
    if found is None or found.status != "pending":
        # Another channel's hold is not this channel's to find: nothing about it is revealed.
        reason = "hold_not_found" if found is None else _RESOLVED_REASON[found.status]
        location = None if found is None else found.location
        available = 0 if location is None else location_available(state, location, policies)
        return _reject(cmd, reason, location, available)
    location = _hold_location(found)
    if isinstance(cmd, Commit):
        return HoldCommitted(
            sku=cmd.sku,
            hold_id=cmd.hold_id,
            channel=found.channel,
            request_id=cmd.request_id,
            request_channel=cmd.channel,
            occurred_at=cmd.issued_at,
            order_id=cmd.order_id,
            available_after=location_available(state, location, policies),
        )
    pos = state.position(location)
    freed = pos._replace(reserved=pos.reserved - found.qty + state.waiting_units(found))
    return HoldReleased(
        sku=cmd.sku,
        hold_id=cmd.hold_id,
        channel=found.channel,
        request_id=cmd.request_id,
        request_channel=cmd.channel,
        occurred_at=cmd.issued_at,
        available_after=position_available(freed, policies.safety_units(location)),
    )


def _hold_asked_for(state: SkuState, cmd: Commit | Release) -> Hold | None:
    """The asking channel's hold (pending or resolved). An admin's command names no channel:
    the hold with that id, when exactly one channel has one (else none is guessed at)."""
    if cmd.channel is not None:
        return state.find_hold(cmd.channel, cmd.hold_id)
    named = state.holds_named(cmd.hold_id)
    if len({hold.channel for hold in named}) != 1:
        return None
    return named[0]  # pending first: a pending hold is resolved once


def _hold_location(hold: Hold) -> str:
    if hold.location is None:
        raise InvariantBroken(f"pending hold {hold.hold_id} has no location")
    return hold.location


def _reject(
    cmd: HoldCommand, reason: RejectReason, location: str | None, available: int
) -> CommandRejected:
    return CommandRejected(
        sku=cmd.sku,
        hold_id=cmd.hold_id,
        occurred_at=cmd.issued_at,
        request_id=cmd.request_id,
        channel=cmd.channel,
        command=cmd.type,
        reason=reason,
        location=location,
        # A channel's ATS sums its locations (each within the bound), so it can pass what
        # the wire's SignedUnits holds: reported capped at the bound rather than failing.
        available_after=min(available, limits.QTY_UNITS_MAX),
    )


def _check_accepted(
    before: SkuState, after: SkuState, decision: Decision, policies: PolicyBook
) -> None:
    """available_must_not_go_negative: an accepted hold leaves available >= 0; a commit
    moves reserved to committed and leaves available as it was."""
    if decision.outcome != "accepted" or decision.location is None:
        return
    hold = None if decision.channel is None else after.find_hold(decision.channel, decision.hold_id)
    supply = None if hold is None or hold.supply is None else after.incoming.get(hold.supply)
    if supply is not None and supply.unpromised < 0 and decision.command == "reserve":
        raise InvariantBroken(f"accepted backorder: {supply.order_id} promised past its units")
    now = location_available(after, decision.location, policies)
    was = location_available(before, decision.location, policies)
    # A backorder taking nothing here leaves an oversold location as it was.
    waits_only = hold is not None and decision.waiting == hold.qty and decision.waiting > 0
    broken = (decision.command == "reserve" and now < 0 and not (waits_only and now == was)) or (
        decision.command == "commit" and now != was
    )
    if broken:
        raise InvariantBroken(f"accepted {decision.command}: available {was} -> {now}")
