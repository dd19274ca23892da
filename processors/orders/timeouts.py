"""When each waiting order is due a timeout (in memory; rebuilt from the table on assignment)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime

from ledger.orders.saga import overdue_after
from ledger.orders.state import OrderState


class TimeoutIndex:
    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._due: dict[str, tuple[datetime, int]] = {}  # ref -> (due at, version waited at)
        self._heap: list[tuple[datetime, str]] = []
        self.rescan_requested = True

    def track(self, state: OrderState) -> None:
        due = overdue_after(state, self._timeout_s)
        if due is None:
            self._due.pop(state.ref, None)
            return
        self._due[state.ref] = (due, state.version)
        heapq.heappush(self._heap, (due, state.ref))

    def rebuild(self, states: Iterable[OrderState]) -> None:
        self._due.clear()
        self._heap.clear()
        for state in states:
            self.track(state)
        self.rescan_requested = False

    def pop_due(self, now: datetime) -> list[tuple[str, int]]:
        """(ref, version) of every order whose timeout is due; each is forgotten until the
        order's next state is tracked."""
        due: list[tuple[str, int]] = []
        while self._heap and self._heap[0][0] <= now:
            at, ref = heapq.heappop(self._heap)
            current = self._due.get(ref)
            if current is not None and current[0] == at:
                due.append((ref, current[1]))
                del self._due[ref]
        return due

    def __len__(self) -> int:
        return len(self._due)
