"""`tally explain CHANNEL SKU`: the arithmetic behind a channel's figure, checked against Redis.

    per location:  on_hand - committed - reserved - unsellable - safety = available
    channel:       sum(available) - buffer (then cap, then >= 0) = ATS

(`ledger.availability` is the one implementation; this module only lays its terms out.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from base.redis_keys import FigureVersion
from base.settings import Settings
from connectors.inspect.published import Published, read_published, redis_client
from connectors.inspect.stock import LedgerSnapshot, ledger_snapshot
from ledger.availability import channel_ats, position_available
from ledger.state import Hold

Status = Literal["current", "behind", "ahead", "not_published"]


class UnknownChannel(Exception):
    """The channel has no policy record, so it has no figure to explain."""


@dataclass(frozen=True)
class HoldTerm:
    hold_id: str
    channel: str
    qty: int
    expires_at: datetime | None


@dataclass(frozen=True)
class LocationTerm:
    location: str
    on_hand: int
    committed: int
    reserved: int
    unsellable: int
    safety: int
    # Units safety stock actually holds back (it only holds back units that exist).
    safety_applied: int = field(init=False)
    free: int  # before safety stock
    available: int  # what the location adds to the channel's sum (negative: oversold)
    oversold: bool = field(init=False)
    holds: list[HoldTerm] = field(default_factory=list)

    def __post_init__(self) -> None:
        oversold = self.free < 0
        object.__setattr__(self, "oversold", oversold)
        object.__setattr__(self, "safety_applied", 0 if oversold else min(self.safety, self.free))


@dataclass(frozen=True)
class Explanation:
    channel: str
    sku: str
    locations: list[LocationTerm]
    sum_available: int
    buffer: int
    cap: int | None
    ats: int
    ledger_version: FigureVersion
    published: Published
    status: Status
    note: str


async def explain(settings: Settings, channel: str, sku: str) -> Explanation:
    snapshot = await ledger_snapshot(settings, sku)
    if channel not in snapshot.book.channels:
        known = ", ".join(sorted(snapshot.book.channels)) or "none"
        raise UnknownChannel(f"channel {channel!r} has no policy (channels: {known})")
    async with redis_client(settings) as client:
        published = (await read_published(client, "ats", [channel], sku))[channel]
    return explanation(snapshot, channel, published)


def explanation(snapshot: LedgerSnapshot, channel: str, published: Published) -> Explanation:
    """The terms behind `channel`'s figure in `snapshot`, compared with the published one."""
    policy = snapshot.book.channels[channel]
    sku = snapshot.sku
    state, book = snapshot.state_or_empty(), snapshot.book
    terms = []
    for location in policy.locations:
        position = state.position(location)
        holds = [_hold_term(h) for h in state.holds.values() if h.location == location]
        terms.append(
            LocationTerm(
                location=location,
                on_hand=position.on_hand,
                committed=position.committed,
                reserved=position.reserved,
                unsellable=position.unsellable,
                safety=book.safety_units(location),
                free=position.free_units,
                available=position_available(position, book.safety_units(location)),
                holds=holds,
            )
        )
    ats = channel_ats(state, policy, book)
    status, note = _compare(ats, snapshot.version, published)
    return Explanation(
        channel=channel,
        sku=sku,
        locations=terms,
        sum_available=sum(term.available for term in terms),
        buffer=policy.buffer_units,
        cap=policy.allocation_cap_units,
        ats=ats,
        ledger_version=snapshot.version,
        published=published,
        status=status,
        note=note,
    )


def _hold_term(hold: Hold) -> HoldTerm:
    return HoldTerm(hold.hold_id, hold.channel, hold.qty, hold.expires_at)


def _compare(ats: int, version: FigureVersion, published: Published) -> tuple[Status, str]:
    if published.units is None:
        return "not_published", (
            "nothing published: the figure never changed from 0 (readers see no figure), "
            "or Redis lost it (`tally resync` rewrites it)"
        )
    if published.units == ats:
        return "current", "the published figure matches the ledger"
    if published.version is not None and published.version > version:
        return "ahead", (
            f"published {published.units} at version {published.version.wire()} is newer than "
            f"the committed ledger ({version.wire()}): the worker's transaction is not "
            "committed yet; run again"
        )
    shown = "unknown" if published.version is None else published.version.wire()
    return "behind", (
        f"published {published.units} at version {shown} is behind the ledger "
        f"({version.wire()}, {ats}): the worker has not published it yet (lag, or a Redis "
        "outage); `tally resync` rewrites it"
    )
