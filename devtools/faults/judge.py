"""The fault runs' independent judge: the ledger's rules as the docs state them, replayed
over the raw records a run left in Kafka.

Written from docs/WIRE.md (what each fact does to a location's buckets, what each command
asks, the decision's fields, the policy log and its version), README "Delivery guarantees"
(idempotency) and the availability formulas in docs/OPERATING.md — never from `ledger/`. It
imports nothing of Tally (an import-linter contract in pyproject.toml keeps it so), so a
bug in the ledger's own rules cannot be repeated here and pass unseen. Where the docs left a
rule unsaid, the rule chosen is written down in docs/WIRE.md ("How the ledger applies
records") and in the comment beside it.

Plain JSON dicts in, plain dicts out: `Judge.fact(record)`, `Judge.command(record, book)`,
`Policy.apply(record, offset)`, `Judge.figures(sku, book)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# The buckets of a location (docs/OPERATING.md, `tally stock --json`).
BUCKETS = ("on_hand", "committed", "reserved", "damaged", "inspection")
RESOLVED_REASON = {
    "committed": "hold_already_committed",
    "released": "hold_already_released",
    "expired": "hold_expired",
    "rejected": "hold_was_rejected",
}


@dataclass
class Channel:
    locations: list[str]
    pickup_locations: list[str]
    buffer_units: int
    allocation_cap_units: int | None
    strategy: str
    version: int


@dataclass
class Policy:
    """`tally.policy` folded: per channel (and location) the record with the highest
    version; the policy version is the offset of the last record + 1 (WIRE.md)."""

    channels: dict[str, Channel] = field(default_factory=dict)
    safety: dict[str, tuple[int, int]] = field(default_factory=dict)  # loc -> (units, version)
    version: int = 0

    def apply(self, record: dict[str, Any], offset: int) -> None:
        self.version = offset + 1
        kind = record.get("kind")
        if kind == "channel":
            current = self.channels.get(record["channel"])
            if current is None or record["version"] > current.version:
                self.channels[record["channel"]] = Channel(
                    locations=list(record["locations"]),
                    pickup_locations=list(record.get("pickup_locations") or []),
                    buffer_units=int(record.get("buffer_units") or 0),
                    allocation_cap_units=record.get("allocation_cap_units"),
                    strategy=record.get("strategy") or "priority",
                    version=record["version"],
                )
        elif kind == "location":
            current_safety = self.safety.get(record["location"])
            if current_safety is None or record["version"] > current_safety[1]:
                units = int(record.get("safety_stock_units") or 0)
                self.safety[record["location"]] = (units, record["version"])

    def safety_units(self, location: str) -> int:
        return self.safety.get(location, (0, 0))[0]

    def copy(self) -> Policy:
        return Policy(dict(self.channels), dict(self.safety), self.version)


@dataclass
class Hold:
    channel: str
    location: str | None
    qty: int
    expires_at: datetime | None
    status: str  # pending, committed, released, expired, rejected
    first: dict[str, Any]  # the hold's first decision


# Hold ids and request ids are each channel's own (WIRE.md): a hold is known by its channel
# and id, a request by its asking channel (None: an admin) and id.
HoldRef = tuple[str, str]
RequestRef = tuple[str | None, str]


@dataclass
class Sku:
    """One SKU as the judge sees it."""

    positions: dict[str, dict[str, int]] = field(default_factory=dict)
    holds: dict[HoldRef, Hold] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    answered: dict[RequestRef, dict[str, Any]] = field(default_factory=dict)  # the first

    def bucket(self, location: str) -> dict[str, int]:
        return self.positions.setdefault(location, dict.fromkeys(BUCKETS, 0))


def available(sku: Sku, location: str, policy: Policy) -> int:
    """free = on_hand - committed - reserved - unsellable; a deficit shows as it is, else
    safety stock holds back only units that exist: max(0, free - safety)."""
    b = sku.positions.get(location)
    if b is None:
        return 0
    free = b["on_hand"] - b["committed"] - b["reserved"] - b["damaged"] - b["inspection"]
    if free < 0:
        return free
    return max(0, free - policy.safety_units(location))


def ats(sku: Sku, channel: Channel, policy: Policy) -> int:
    """max(0, min(cap, sum of the channel's locations' available - buffer))."""
    total = sum(available(sku, loc, policy) for loc in channel.locations) - channel.buffer_units
    if channel.allocation_cap_units is not None:
        total = min(total, channel.allocation_cap_units)
    return max(0, total)


def _asked_for(sku: Sku, channel: str | None, hold_id: str) -> Hold | None:
    """The asking channel's hold `hold_id`; for an admin (no channel) the one hold with that
    id when exactly one channel has one."""
    if channel is not None:
        return sku.holds.get((channel, hold_id))
    named = [hold for (_, held), hold in sku.holds.items() if held == hold_id]
    return named[0] if len(named) == 1 else None


def _place(
    sku: Sku, record: dict[str, Any], channel: Channel | None, policy: Policy
) -> tuple[str | None, str | None, int]:
    """(location, rejection reason or None, units shown with a rejection) for a reserve.

    A channel holds only what it shows: the units must be within its ATS (buffer and cap
    included) and, at the location, within its available. A pickup location (not one the
    channel sells from) needs only its own available. Rejected with no location, the units
    shown are the channel's ATS; at a location, that location's available.
    """
    qty, asked = record["qty"], record.get("location")
    if channel is None:
        return asked, "unknown_channel", 0
    channel_units = ats(sku, channel, policy)
    if asked is not None:
        sells = asked in channel.locations
        if not sells and asked not in channel.pickup_locations:
            return asked, "location_not_eligible", 0
        here = available(sku, asked, policy)
        enough = here >= qty and (not sells or channel_units >= qty)
        return asked, None if enough else "insufficient_stock", here
    if channel_units < qty:
        return None, "insufficient_stock", channel_units
    units = {loc: available(sku, loc, policy) for loc in channel.locations}
    fits = [loc for loc in channel.locations if units[loc] >= qty]
    if not fits:  # enough in total, but in no one location: never split silently
        return None, "split_required", channel_units
    if channel.strategy == "most_available":
        return max(fits, key=lambda loc: units[loc]), None, 0  # ties: priority order
    return fits[0], None, 0


def _decision(
    record: dict[str, Any], location: str | None, reason: str | None, units: int
) -> dict[str, Any]:
    """The `tally.decisions` record. `available_after`: the raw available units at the
    location after the decision (negative: oversold); with a rejection, what was there."""
    return {
        "request_id": record["request_id"],
        "hold_id": record["hold_id"],
        "sku": record["sku"],
        "command": record["type"],
        "outcome": "accepted" if reason is None else "rejected",
        "reason": reason,
        "location": location,
        "available_after": units,
        "decided_at": record["issued_at"],
        "channel": record.get("channel"),  # the asking channel's (None: an admin's)
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Judge:
    """Every SKU of a run, folded from its facts and decided from its commands."""

    def __init__(self) -> None:
        self.skus: dict[str, Sku] = {}

    def sku(self, name: str) -> Sku:
        return self.skus.setdefault(name, Sku())

    # --- facts (WIRE.md `tally.events`) -------------------------------------------------

    def fact(self, record: dict[str, Any]) -> None:
        sku = self.sku(record["sku"])
        if record["event_id"] in sku.seen:
            return  # idempotent: a seen event_id changes nothing
        sku.seen.add(record["event_id"])
        b = sku.bucket(record["location"])
        kind, qty = record["type"], record["qty"]
        if kind in ("received", "adjusted", "transfer_in"):
            b["on_hand"] += qty
        elif kind in ("sold_in_store", "transfer_out"):
            b["on_hand"] -= qty
        elif kind == "shipped":
            # Units leave on hand and fill committed orders; units shipped beyond what was
            # committed came from free stock (committed never goes below 0).
            b["on_hand"] -= qty
            b["committed"] = max(0, b["committed"] - qty)
        elif kind == "counted":
            b["on_hand"] = qty
        elif kind == "damaged":
            b["damaged"] += qty  # on hand still, but unsellable
        elif kind == "return_received":
            b["on_hand"] += qty
            b["inspection"] += qty
        elif kind == "return_graded":
            self._graded(b, record["disposition"], qty)
        elif kind == "order_placed":
            b["committed"] += qty
        elif kind == "order_cancelled":
            b["committed"] = max(0, b["committed"] - qty)
        # supply_expected: incoming only, never available (no bucket here)

    @staticmethod
    def _graded(b: dict[str, int], disposition: str, qty: int) -> None:
        # Graded units leave inspection; units graded beyond those awaiting inspection
        # arrived at grading (a return never scanned in): they join on hand first. Then
        # restocked units are sellable, damaged ones move to damaged, disposed ones leave.
        from_inspection = min(b["inspection"], qty)
        b["inspection"] -= from_inspection
        b["on_hand"] += qty - from_inspection
        if disposition == "damaged":
            b["damaged"] += qty
        elif disposition == "dispose":
            b["on_hand"] -= qty

    # --- commands (WIRE.md `tally.commands`, `tally.decisions`) -------------------------

    def command(self, record: dict[str, Any], policy: Policy) -> dict[str, Any] | None:
        """Decide one command with `policy`; the decision record (None for `expire`)."""
        sku = self.sku(record["sku"])
        now = _time(record["issued_at"])
        if record["type"] == "expire":
            self._expire(sku, now)
            return None
        repeated = self._repeated(sku, record)
        if repeated is not None:
            return repeated  # a repeat changes nothing, not even by expiring holds
        self._expire(sku, now)  # holds expire by log time, before anything is decided
        if record["type"] == "reserve":
            decision = self._reserve(sku, record, policy, now)
        else:
            decision = self._resolve(sku, record, policy)
        sku.answered[(record.get("channel"), record["request_id"])] = decision
        return decision

    @staticmethod
    def _repeated(sku: Sku, record: dict[str, Any]) -> dict[str, Any] | None:
        """The first decision of the asking channel's repeated request_id, or of a reserve
        naming the channel's known hold_id (that hold's first decision as it was written,
        whatever the new request_id)."""
        first = sku.answered.get((record.get("channel"), record["request_id"]))
        if first is None and record["type"] == "reserve":
            known = sku.holds.get((record["channel"], record["hold_id"]))
            first = None if known is None else known.first
        return first

    @staticmethod
    def _expire(sku: Sku, now: datetime) -> None:
        for hold in sku.holds.values():
            if hold.status == "pending" and hold.expires_at is not None and hold.expires_at <= now:
                hold.status = "expired"
                if hold.location is not None:
                    sku.bucket(hold.location)["reserved"] -= hold.qty

    def _reserve(
        self, sku: Sku, record: dict[str, Any], policy: Policy, now: datetime
    ) -> dict[str, Any]:
        channel = policy.channels.get(record["channel"])
        location, reason, units = _place(sku, record, channel, policy)
        hold = Hold(record["channel"], location, record["qty"], None, "rejected", {})
        if reason is None:
            assert location is not None
            hold.status = "pending"
            hold.expires_at = now + timedelta(seconds=record["ttl_s"])
            sku.bucket(location)["reserved"] += record["qty"]
            units = available(sku, location, policy)
        hold.first = _decision(record, location, reason, units)
        sku.holds[(record["channel"], record["hold_id"])] = hold
        return hold.first

    @staticmethod
    def _resolve(sku: Sku, record: dict[str, Any], policy: Policy) -> dict[str, Any]:
        hold = _asked_for(sku, record.get("channel"), record["hold_id"])
        if hold is None:  # none, another channel's, or an admin's ambiguous id
            return _decision(record, None, "hold_not_found", 0)
        units = 0 if hold.location is None else available(sku, hold.location, policy)
        if hold.status != "pending":
            return _decision(record, hold.location, RESOLVED_REASON[hold.status], units)
        assert hold.location is not None
        b = sku.bucket(hold.location)
        b["reserved"] -= hold.qty
        if record["type"] == "commit":
            b["committed"] += hold.qty
            hold.status = "committed"
        else:
            hold.status = "released"
        return _decision(record, hold.location, None, available(sku, hold.location, policy))

    # --- figures (README "Wire contract", docs/OPERATING.md `explain`) ------------------

    def figures(self, name: str, policy: Policy) -> dict[str, dict[str, int]]:
        """{"ats": channel -> units, "loc": location -> units}: what Redis should hold."""
        sku = self.skus.get(name, Sku())
        return {
            "ats": {c: ats(sku, channel, policy) for c, channel in policy.channels.items()},
            "loc": {loc: max(0, available(sku, loc, policy)) for loc in sku.positions},
        }

    def holds(self, name: str) -> dict[HoldRef, tuple[str, int, str | None]]:
        """(channel, hold_id) -> (status, qty, location) of every hold the SKU knows."""
        sku = self.skus.get(name, Sku())
        return {ref: (x.status, x.qty, x.location) for ref, x in sku.holds.items()}

    def positions(self, name: str) -> dict[str, dict[str, int]]:
        sku = self.skus.get(name, Sku())
        return {loc: dict(b) for loc, b in sku.positions.items()}
