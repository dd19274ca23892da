"""Let readers of the whole table see only durable state, while batches overlap their writes.

A batch's table writes are in the local store at once, and durable only when Kafka has
acknowledged their changelog records; with the pipeline several batches can be between the
two. A reader that publishes from a snapshot of the table (the republishes) enters the
gate with `async with gate:`: new batches wait before writing, the ones in flight finish,
and the snapshot holds durable states only.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class DurableGate:
    def __init__(self) -> None:
        self._writing = 0  # batches whose table writes are not acknowledged yet
        self._readers = 0  # readers waiting for, or holding, a durable snapshot
        self._changed = asyncio.Condition()

    async def admit_writes(self) -> None:
        """Before a batch writes the table: wait while a reader holds the gate."""
        if self._readers:
            async with self._changed:
                await self._changed.wait_for(lambda: not self._readers)
        self._writing += 1

    async def writes_durable(self) -> None:
        """A batch's writes are acknowledged."""
        self._writing -= 1
        if self._readers and not self._writing:
            async with self._changed:
                self._changed.notify_all()

    async def __aenter__(self) -> None:
        self._readers += 1
        try:
            async with self._changed:
                await self._changed.wait_for(lambda: not self._writing)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._readers -= 1
        async with self._changed:
            self._changed.notify_all()
