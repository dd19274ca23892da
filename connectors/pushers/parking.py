"""Figures waiting for a scheduled retry, so one failing delivery never blocks the channel.

A sink that answers `Deferred` (the webhook receiver is down) has its figure parked here with
the stream entries it stands for, which stay pending (unacked) in the consumer group. Newer
figures of a parked SKU are folded into it instead of being pushed: only the latest figure
matters, and the next retry sends it. Other SKUs go on being pushed. A crash loses nothing:
the parked entries are still pending and are re-read at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connectors.pushers.changes import Change


@dataclass(slots=True)
class Parked:
    """One SKU's newest figure, the entries it stands for, and its retry state."""

    change: Change
    entry_ids: list[str] = field(default_factory=list)
    failures: int = 0
    due_s: float = 0.0  # monotonic time of the next attempt
    reason: str = ""


class ParkingLot:
    """Parked figures by SKU (one pusher, one channel)."""

    def __init__(self) -> None:
        self._parked: dict[str, Parked] = {}

    def __len__(self) -> int:
        return len(self._parked)

    def __contains__(self, sku: object) -> bool:
        return sku in self._parked

    def absorb(
        self, changes: Iterable[Change], entry_ids: Mapping[str, Sequence[str]]
    ) -> list[Change]:
        """Fold figures of parked SKUs (and their entry ids) into them; return the others."""
        others: list[Change] = []
        for change in changes:
            parked = self._parked.get(change.sku)
            if parked is None:
                others.append(change)
                continue
            if change.version >= parked.change.version:
                parked.change = change
            for entry_id in entry_ids.get(change.sku, ()):
                if entry_id not in parked.entry_ids:
                    parked.entry_ids.append(entry_id)
        return others

    def park(
        self, change: Change, entry_ids: Sequence[str], *, failures: int, due_s: float, reason: str
    ) -> None:
        current = self._parked.get(change.sku)
        ids = list(current.entry_ids if current else []) + [
            i for i in entry_ids if not current or i not in current.entry_ids
        ]
        newest = change if current is None or change.version >= current.change.version else None
        self._parked[change.sku] = Parked(
            newest or (current.change if current else change), ids, failures, due_s, reason
        )

    def due(self, now_s: float) -> list[Parked]:
        """Parked figures whose retry time has come, oldest due first."""
        ready = [parked for parked in self._parked.values() if parked.due_s <= now_s]
        return sorted(ready, key=lambda parked: parked.due_s)

    def release(self, sku: str) -> Parked:
        return self._parked.pop(sku)

    def next_due_s(self) -> float | None:
        return min((parked.due_s for parked in self._parked.values()), default=None)
