"""One piece of work at a time running behind the batch that started it.

The orders agent publishes a batch's views (compare-and-set, after its states are durable)
while it goes on to the next batch, instead of waiting for Redis first. At most one publish
is in flight: the next batch's waits for the previous one, and a failure surfaces there, so
that batch fails and the worker restarts, and the rescan after the restart publishes every
view again (`processors.orders.app._send_timeouts`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class Trailing:
    def __init__(self) -> None:
        self._last: asyncio.Future[Any] | None = None

    async def start(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Once the previous work ended (its failure raised here), start `work()`."""
        await self.drain()
        self._last = asyncio.ensure_future(work())

    async def drain(self) -> None:
        """Until the work started last ended (its failure raised here)."""
        last, self._last = self._last, None
        if last is not None:
            await last
