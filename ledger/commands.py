"""Commands (`tally.commands`): requests that `decide` may reject, and their decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from ledger.events import CommandName, RejectReason
from ledger.fields import (
    WIRE_CONFIG,
    ChannelId,
    CountUnits,
    LocationId,
    PositiveUnits,
    SignedUnits,
    Sku,
    Timestamp,
    Token,
    TtlSeconds,
)


class _Command(BaseModel):
    model_config = WIRE_CONFIG

    sku: Sku
    # Log time, stamped by the gateway / producer: every expiry is decided against it.
    issued_at: Timestamp


class Reserve(_Command):
    """Place a pending hold of `qty` for `channel`, at `location` or one chosen by policy."""

    type: Literal["reserve"] = "reserve"
    request_id: Token
    hold_id: Token
    channel: ChannelId
    qty: PositiveUnits
    ttl_s: TtlSeconds
    location: LocationId | None = None
    # Units not available at `location` now may wait on supply expected there (the earliest
    # ETA with room): a backorder (docs/PROMISE.md). Needs `location`.
    backorder: bool = False

    @model_validator(mode="after")
    def _backorder_at_a_location(self) -> Reserve:
        if self.backorder and self.location is None:
            raise ValueError("backorder: needs a location")
        return self


class Commit(_Command):
    """Turn a pending hold into a committed order."""

    type: Literal["commit"] = "commit"
    request_id: Token
    hold_id: Token
    order_id: Token
    # The channel asking; when given, it must be the hold's own (else `channel_mismatch`).
    channel: ChannelId | None = None


class Release(_Command):
    """Give a pending hold back."""

    type: Literal["release"] = "release"
    request_id: Token
    hold_id: Token
    # The channel asking; when given, it must be the hold's own (else `channel_mismatch`).
    channel: ChannelId | None = None


class Expire(_Command):
    """Timer tick through the log: expire every pending hold with expires_at <= issued_at."""

    type: Literal["expire"] = "expire"


CommandUnion = Reserve | Commit | Release | Expire
Command = Annotated[CommandUnion, Field(discriminator="type")]
HoldCommand = Reserve | Commit | Release

Outcome = Literal["accepted", "rejected"]


class Decision(BaseModel):
    """The answer to a reserve / commit / release (`tally.decisions`)."""

    model_config = WIRE_CONFIG

    request_id: Token
    hold_id: Token
    sku: Sku
    command: CommandName
    outcome: Outcome
    reason: RejectReason | None = None  # None when accepted
    location: LocationId | None = None
    # Raw available units at `location` after the decision (negative = oversold).
    available_after: SignedUnits
    decided_at: Timestamp
    # The channel whose request this answers (ids are each channel's own); None: an admin's.
    channel: ChannelId | None = None
    # A backorder hold: units of it waiting on supply, and that supply's ETA.
    waiting: CountUnits = 0
    eta: Timestamp | None = None
