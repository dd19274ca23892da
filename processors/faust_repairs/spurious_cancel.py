"""Tell a cancellation aimed at our task from one leaking out of aiokafka.

aiokafka's metadata refresh can cancel an internal future our code is waiting on; the
`CancelledError` then reaches us while nobody cancelled our task. Taken for a real
cancellation it would pass for a shutdown: the side producer retries it like a KafkaError,
and a batch it breaks is replayed (processors.faust_repairs.batch_exit).
"""

from __future__ import annotations

import asyncio


def is_spurious(error: BaseException) -> bool:
    """A KafkaError, or a CancelledError leaking from an aiokafka-internal future while our
    own task is not being cancelled (aiokafka's metadata refresh can do that)."""
    if not isinstance(error, asyncio.CancelledError):
        return True
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0
