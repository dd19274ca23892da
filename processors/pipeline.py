"""The worker's batch loop: take what has arrived, fold it, and overlap its round trips with
the next batch's fold.

No fixed wait: a batch is whatever the fetch delivered since the last one was taken (bounded
by `take_batch_max` records and `take_batch_bytes_max` bytes), so a trickle is folded the
moment it arrives and batches grow only while a backlog exists. Each batch is folded and
its writes sent (`batch_step.start_batch`) in the loop; its changelog acks, Redis publish,
decisions and offset acknowledgement (`batch_step.finish_batch`) run in a task of their own,
chained to the previous batch's so figures are published and offsets acknowledged strictly
in batch order. At most `pipeline_depth` batches are unfinished at once.

A batch runs whole or the worker restarts to replay it (`FaustRepairs.run_batch`); on
shutdown the loop stops taking and lets the unfinished batches end before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from processors import metrics
from processors.batch_step import finish_batch, start_batch
from processors.parts import Worker


class BatchPipeline:
    def __init__(self, worker: Worker, inbox: Any) -> None:
        self._worker = worker
        self._inbox = inbox  # faust_repairs.batch_delivery.BatchInbox
        self._unfinished: deque[asyncio.Future[None]] = deque()

    async def run(self) -> None:
        settings = self._worker.settings.worker
        try:
            while True:
                asked_at = time.monotonic()
                records = await self._inbox.take(
                    settings.take_batch_max, settings.take_batch_bytes_max
                )
                taken_at = time.monotonic()
                # the loop was idle only as long as nothing had arrived when it asked
                metrics.BATCH_PHASES["idle"].observe(
                    max(0.0, self._inbox.oldest_taken_at - asked_at)
                )
                metrics.BATCH_PHASES["queued"].observe(taken_at - self._inbox.oldest_taken_at)
                await self._worker.policy.ready.wait()
                await self._worker.repairs.run_batch(self._start(records))
                room_at = time.monotonic()
                await self._room(settings.pipeline_depth)
                metrics.BATCH_PHASES["room"].observe(time.monotonic() - room_at)
        except asyncio.CancelledError:
            await self._let_unfinished_end()
            raise

    async def _start(self, records: list[Any]) -> None:
        flight = await start_batch(self._worker, records)
        if flight is None:
            return
        previous = self._unfinished[-1] if self._unfinished else None
        finish = finish_batch(self._worker, flight, _quiet(previous))
        self._unfinished.append(asyncio.ensure_future(self._worker.repairs.run_batch(finish)))

    async def _room(self, depth: int) -> None:
        """Until fewer than `depth` batches are unfinished."""
        unfinished = self._unfinished
        while unfinished and (unfinished[0].done() or len(unfinished) >= depth):
            await asyncio.shield(unfinished[0])
            unfinished.popleft()

    async def _let_unfinished_end(self) -> None:
        while self._unfinished:
            head = self._unfinished[0]
            if head.done():
                self._unfinished.popleft()
                continue
            # cancelled again while waiting: the batches still end first
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(head)


async def _quiet(previous: asyncio.Future[None] | None) -> None:
    """Until the previous batch finished (its own failure restarts the worker, not ours)."""
    if previous is not None:
        await asyncio.shield(previous)
