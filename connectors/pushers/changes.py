"""Change-stream entries, coalescing per SKU, and what a push can end in.

A figure's version is the pair (sku_version, policy_version) written "S-P"; pairs compare
as integers, never as strings ("10-0" is newer than "9-5").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from base.redis_keys import FigureVersion


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of `tally:changes:{channel}`."""

    entry_id: str
    sku: str
    available: int
    version: FigureVersion
    ingested_ms: int


@dataclass(frozen=True, slots=True)
class PushedFigure:
    """The last figure the external side confirmed for a SKU."""

    version: FigureVersion
    quantity: int

    def wire(self) -> str:
        return f"{self.version.wire()}:{self.quantity}"

    @classmethod
    def parse(cls, text: str) -> PushedFigure:
        version, _, quantity = text.rpartition(":")
        return cls(FigureVersion.parse(version), int(quantity))


@dataclass(frozen=True, slots=True)
class Delivered:
    change: Change


@dataclass(frozen=True, slots=True)
class DeadLettered:
    change: Change
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Deferred:
    """Not delivered this time; the runner parks the figure and retries it on the sink's
    schedule while the rest of the channel goes on. `hint_s` is a receiver's Retry-After."""

    change: Change
    reason: str
    hint_s: float | None = None


Outcome = Delivered | DeadLettered | Deferred
RESYNC_ENTRY_ID = "0-0"  # the entry id of a figure read from tally:ats, not from the stream


def parse_entry(entry_id: str, fields: Mapping[str, str] | None) -> Change | None:
    """The change in one stream entry; None when it is malformed (or trimmed away)."""
    if not fields:
        return None
    try:
        change = Change(
            entry_id=entry_id,
            sku=fields["sku"],
            available=int(fields["available"]),
            version=FigureVersion.parse(fields["version"]),
            ingested_ms=int(fields.get("ingested_at") or 0),
        )
    except (KeyError, ValueError):
        return None
    if not change.sku or change.available < 0:
        return None
    return change


def figure_change(sku: str, available: str, version: str) -> Change | None:
    """A change built from a published figure (`tally:ats` + `tally:ver:ats`), for resyncs."""
    return parse_entry(RESYNC_ENTRY_ID, {"sku": sku, "available": available, "version": version})


def coalesce(changes: Iterable[Change]) -> list[Change]:
    """Only the newest figure per SKU (by version; on a tie the later entry), in stream order."""
    newest: dict[str, Change] = {}
    for change in changes:
        current = newest.get(change.sku)
        if current is None or change.version >= current.version:
            newest[change.sku] = change
    return sorted(newest.values(), key=lambda change: entry_order(change.entry_id))


def newer_than_pushed(
    changes: Iterable[Change], pushed: Mapping[str, PushedFigure]
) -> list[Change]:
    """Drop figures not newer than what the external side already confirmed."""
    fresh: list[Change] = []
    for change in changes:
        confirmed = pushed.get(change.sku)
        if confirmed is None or change.version > confirmed.version:
            fresh.append(change)
    return fresh


def entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
