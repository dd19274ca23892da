"""A batch runs to its end, or the worker restarts to replay it: never a half batch acked.

`take_events` (faust-streaming 0.15) acks a batch's events when the loop body exits, even by
an exception or a cancellation (on shutdown). A half-processed batch would then be committed
as done; and Faust restarts a crashed agent with the batch's events already taken from the
stream. So a batch is shielded from cancellation until it ends, and a failed one restarts
the process (processors.faust_repairs.restart) before any commit, to replay it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, NoReturn

from processors.faust_repairs.restart import restart_after_crash
from processors.faust_repairs.spurious_cancel import is_spurious

log = logging.getLogger("tally.worker")


async def run_batch(batch: Coroutine[Any, Any, None], restarts_max: int) -> None:
    """Run one batch whole; a failure restarts the worker, a real cancellation goes on."""
    try:
        await finish_even_if_cancelled(batch)
    except asyncio.CancelledError as error:
        if not is_spurious(error):
            raise  # the batch completed; the worker is stopping
        _exit_for_replay(restarts_max)
    except BaseException:
        # Bad input never raises (it is dead-lettered), so this is a broken invariant,
        # a bug or a lost dependency. Faust would restart the agent with the batch's
        # events already taken from the stream; dying now, before any commit, makes
        # the restarted worker replay them from the last committed offset instead.
        _exit_for_replay(restarts_max)


async def finish_even_if_cancelled(batch: Coroutine[Any, Any, None]) -> None:
    """Run a batch to its end before letting a cancellation through.

    `take_events` acks a batch's events when the loop body exits, even by cancellation (on
    shutdown), so a half-processed batch would be committed as done.
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await task
        raise


def _exit_for_replay(restarts_max: int) -> NoReturn:
    log.critical("batch failed; restarting so the batch is replayed", exc_info=True)
    restart_after_crash(restarts_max, "batch failed")
