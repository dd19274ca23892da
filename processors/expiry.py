"""Which SKUs have a hold due to expire: a worker-local index, rebuilt from the table.

The index only says when to ask; the decision is the ledger's, on log time, when the
`expire` command comes back through `tally.commands`. So a lost or stale index entry
can delay an expiry by a tick but never expire a hold early or twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ledger.state import SkuState


def next_expiry_ms(state: SkuState) -> int | None:
    """The earliest expiry (Unix ms) among the SKU's pending holds, if any."""
    expiries = [hold.expires_at for hold in state.holds.values() if hold.expires_at is not None]
    return int(min(expiries).timestamp() * 1000) if expiries else None


class ExpiryIndex:
    def __init__(self, *, retry_after_ms: int = 5_000) -> None:
        # Asked-about SKUs are re-armed this far ahead, in case the expire command is lost;
        # processing the command replaces the entry with the SKU's real next expiry.
        self._retry_after_ms = retry_after_ms
        self._due_ms: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self.rescan_requested = True  # the first tick after start reads the table

    def request_rescan(self) -> None:
        self.rescan_requested = True

    def rebuild(self, states: Iterable[SkuState]) -> None:
        self._due_ms.clear()
        self._heap.clear()
        for state in states:
            self.track(state.sku, next_expiry_ms(state))
        self.rescan_requested = False

    def track(self, sku: str, due_ms: int | None) -> None:
        if due_ms is None:
            self._due_ms.pop(sku, None)
            return
        if self._due_ms.get(sku) != due_ms:
            self._due_ms[sku] = due_ms
            heapq.heappush(self._heap, (due_ms, sku))

    def pop_due(self, now_ms: int) -> list[str]:
        """SKUs with a hold due at or before now; each is asked about once, then re-armed."""
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now_ms:
            due_ms, sku = heapq.heappop(self._heap)
            if self._due_ms.get(sku) == due_ms:  # skip entries superseded by a later track()
                due.append(sku)
        for sku in due:
            self.track(sku, now_ms + self._retry_after_ms)
        return due

    def __len__(self) -> int:
        return len(self._due_ms)
