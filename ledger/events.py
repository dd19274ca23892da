"""Facts (wire, `tally.events`) and the hold lifecycle events `decide` emits.

Facts are never rejected by the fold; they are validated here, at decode time.
Hold events are part of a SKU's history but are produced only by `ledger.decide`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ledger import limits
from ledger.fields import (
    WIRE_CONFIG,
    ChannelId,
    CountUnits,
    LocationId,
    PositiveUnits,
    Reason,
    SignedUnits,
    Sku,
    Timestamp,
    Token,
)

_AHEAD_NEG = -timedelta(seconds=limits.OCCURRED_AHEAD_OF_INGEST_S_MAX)  # negated once
_LATE = timedelta(seconds=limits.OCCURRED_BEFORE_INGEST_S_MAX)

Disposition = Literal["restock", "damaged", "dispose"]


class _Fact(BaseModel):
    model_config = WIRE_CONFIG

    event_id: Token
    sku: Sku
    location: LocationId
    qty: PositiveUnits
    occurred_at: Timestamp
    source: Token
    ingested_at: Timestamp | None = None

    @model_validator(mode="after")
    def _clock_skew_bounded(self) -> _Fact:
        stamp = self.ingested_at
        # One aware-datetime subtraction: comparisons across tzinfo objects are slow.
        if stamp is not None and not (_AHEAD_NEG <= stamp - self.occurred_at <= _LATE):
            raise ValueError(
                "occurred_at: more than "
                f"{limits.OCCURRED_AHEAD_OF_INGEST_S_MAX}s after or "
                f"{limits.OCCURRED_BEFORE_INGEST_S_MAX}s before ingested_at"
            )
        return self

    @property
    def log_time(self) -> datetime:
        return self.occurred_at if self.ingested_at is None else self.ingested_at


def _eta_not_past(eta: datetime | None, occurred_at: datetime) -> None:
    """An ETA before the fact itself is a past date: refused (dead-lettered), not promised."""
    if eta is not None and eta < occurred_at:
        raise ValueError("eta: before occurred_at (an ETA in the past)")


class Received(_Fact):
    """Units arrived at a location (a receipt; `order_id` matches a `supply_expected`)."""

    type: Literal["received"] = "received"
    order_id: Token | None = None


class Shipped(_Fact):
    """Units left the location to fulfil committed orders."""

    type: Literal["shipped"] = "shipped"
    order_id: Token | None = None


class SoldInStore(_Fact):
    """A POS sale: units left on-hand at once, never committed first."""

    type: Literal["sold_in_store"] = "sold_in_store"
    order_id: Token | None = None


class Adjusted(_Fact):
    """A relative on-hand correction with a reason; the only signed quantity."""

    type: Literal["adjusted"] = "adjusted"
    qty: SignedUnits
    reason: Reason

    @field_validator("qty")
    @classmethod
    def _not_zero(cls, qty: int) -> int:
        if qty == 0:
            raise ValueError("an adjustment of 0 units changes nothing")
        return qty


class Counted(_Fact):
    """A cycle count: on-hand is set absolutely and the variance recorded."""

    type: Literal["counted"] = "counted"
    qty: CountUnits


class Damaged(_Fact):
    """Units on hand became unsellable (damaged)."""

    type: Literal["damaged"] = "damaged"
    reason: Reason | None = None


class TransferOut(_Fact):
    """Units left `location` for `target_location` under transfer order `order_id`."""

    type: Literal["transfer_out"] = "transfer_out"
    target_location: LocationId
    order_id: Token
    eta: Timestamp | None = None

    @model_validator(mode="after")
    def _target_differs(self) -> TransferOut:
        if self.target_location == self.location:
            raise ValueError("target_location: must differ from location")
        _eta_not_past(self.eta, self.occurred_at)
        return self


class TransferIn(_Fact):
    """Units of transfer order `order_id` arrived at `location`."""

    type: Literal["transfer_in"] = "transfer_in"
    order_id: Token


class ReturnReceived(_Fact):
    """A customer return arrived at any location; it awaits inspection (unsellable)."""

    type: Literal["return_received"] = "return_received"
    order_id: Token | None = None


class ReturnGraded(_Fact):
    """Inspected returns: restock (sellable), damaged (unsellable) or dispose (out)."""

    type: Literal["return_graded"] = "return_graded"
    disposition: Disposition
    order_id: Token | None = None


class OrderPlaced(_Fact):
    """A channel sold without a hold: units committed at the location."""

    type: Literal["order_placed"] = "order_placed"
    order_id: Token


class OrderCancelled(_Fact):
    """A committed order was cancelled before shipping."""

    type: Literal["order_cancelled"] = "order_cancelled"
    order_id: Token
    # A backorder hold given back: its units still waiting on supply are released there
    # first, only the rest from `committed` (docs/PROMISE.md).
    hold_id: Token | None = None


class SupplyExpected(_Fact):
    """A purchase order / ASN: incoming at `location` by `eta`; never available.

    Sent again with the same `order_id`, it replaces the expected units and ETA (a late
    receipt: a later `eta`); what was promised against it stays promised.
    """

    type: Literal["supply_expected"] = "supply_expected"
    order_id: Token
    eta: Timestamp

    @model_validator(mode="after")
    def _eta_ahead(self) -> SupplyExpected:
        _eta_not_past(self.eta, self.occurred_at)
        return self


class SupplyCancelled(_Fact):
    """`qty` units of purchase order `order_id` will not come (a short or cancelled supply)."""

    type: Literal["supply_cancelled"] = "supply_cancelled"
    order_id: Token


Fact = (
    Received
    | Shipped
    | SoldInStore
    | Adjusted
    | Counted
    | Damaged
    | TransferOut
    | TransferIn
    | ReturnReceived
    | ReturnGraded
    | OrderPlaced
    | OrderCancelled
    | SupplyExpected
    | SupplyCancelled
)
Event = Annotated[Fact, Field(discriminator="type")]
FACT_TYPES: tuple[str, ...] = (
    "received",
    "shipped",
    "sold_in_store",
    "adjusted",
    "counted",
    "damaged",
    "transfer_out",
    "transfer_in",
    "return_received",
    "return_graded",
    "order_placed",
    "order_cancelled",
    "supply_expected",
    "supply_cancelled",
)


# --- hold lifecycle (emitted by decide, applied by the fold) -----------------------------


class _HoldEvent(BaseModel):
    model_config = WIRE_CONFIG

    sku: Sku
    hold_id: Token
    occurred_at: Timestamp

    @property
    def log_time(self) -> datetime:
        return self.occurred_at


class HoldPlaced(_HoldEvent):
    """A pending hold: counts against availability at once."""

    type: Literal["hold_placed"] = "hold_placed"
    request_id: Token
    channel: ChannelId
    location: LocationId
    qty: PositiveUnits
    expires_at: Timestamp
    available_after: SignedUnits
    # A backorder: `waiting` of the units wait on this incoming entry (`ledger.state`
    # incoming_key); the rest are reserved at the location.
    supply: str | None = Field(default=None, max_length=200)
    waiting: CountUnits = 0


class HoldCommitted(_HoldEvent):
    """The pending hold became a committed order."""

    type: Literal["hold_committed"] = "hold_committed"
    channel: ChannelId  # the hold's: hold ids are scoped by channel
    request_id: Token
    request_channel: ChannelId | None  # whose request (the decision's scope); None: admin
    order_id: Token
    available_after: SignedUnits


class HoldReleased(_HoldEvent):
    """The channel gave the pending hold back."""

    type: Literal["hold_released"] = "hold_released"
    channel: ChannelId
    request_id: Token
    request_channel: ChannelId | None
    available_after: SignedUnits


class HoldExpired(_HoldEvent):
    """The pending hold reached its expiry (log time)."""

    type: Literal["hold_expired"] = "hold_expired"
    channel: ChannelId


CommandName = Literal["reserve", "commit", "release"]
RejectReason = Literal[
    "insufficient_stock",
    "split_required",
    "location_not_eligible",
    "unknown_channel",
    "too_many_holds",
    "hold_not_found",
    "hold_already_committed",
    "hold_already_released",
    "hold_expired",
    "hold_was_rejected",
    "channel_mismatch",  # no longer given (ids are scoped by channel); old records decode
    "insufficient_supply",
]


class CommandRejected(_HoldEvent):
    """A command was refused; recorded so a repeated request gets the same answer."""

    type: Literal["command_rejected"] = "command_rejected"
    request_id: Token
    channel: ChannelId | None  # the asking channel (the decision's scope); None: admin
    command: CommandName
    reason: RejectReason
    location: LocationId | None = None
    available_after: SignedUnits


HoldEventUnion = HoldPlaced | HoldCommitted | HoldReleased | HoldExpired | CommandRejected
HoldEvent = Annotated[HoldEventUnion, Field(discriminator="type")]
LedgerEvent = Annotated[Fact | HoldEventUnion, Field(discriminator="type")]
