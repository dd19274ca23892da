"""A location's order capacity on one local day: which orders took a slot, decided in one place.

The capacity agent owns each (location, day) alone (its topic is keyed by location), so two
orders can never both take the last slot. A take repeated by the same order is answered
as before; a give of a slot the order does not hold changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from ledger.fields import LocationId, Token
from ledger.orders.records import CapacityAsk

Outcome = Literal["accepted", "rejected"]


class CapacityDay(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    location: LocationId
    day: date
    refs: tuple[Token, ...] = ()  # orders holding a slot, in the order they took it

    @property
    def taken(self) -> int:
        return len(self.refs)


class CapacityDecided(NamedTuple):
    day: CapacityDay
    outcome: Outcome | None  # None for a give (no answer is sent)


def capacity_key(location: str, day: date) -> str:
    return f"{location}/{day.isoformat()}"


def decide_capacity(
    current: CapacityDay | None, ask: CapacityAsk, limit: int | None
) -> CapacityDecided:
    """Take or give back `ask.ref`'s slot. `limit` None: the location has no limit, every take
    is accepted and nothing is kept (a limit set later that day counts from then on)."""
    day = current or CapacityDay(location=ask.location, day=ask.day)
    held = ask.ref in day.refs
    if ask.type == "give":
        if not held:
            return CapacityDecided(day, None)
        refs = tuple(ref for ref in day.refs if ref != ask.ref)
        return CapacityDecided(day.model_copy(update={"refs": refs}), None)
    if held or limit is None:
        return CapacityDecided(day, "accepted")  # no limit: nothing to count
    if day.taken >= limit:
        return CapacityDecided(day, "rejected")
    return CapacityDecided(day.model_copy(update={"refs": (*day.refs, ask.ref)}), "accepted")
