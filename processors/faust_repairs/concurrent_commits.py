"""Commit a worker's partition transactions side by side instead of one after another.

Under exactly-once faust-streaming 0.15 keeps one transactional producer per source
partition and its offsets commit (`Producer.commit_transactions`) ends them in turn: each
one's AddOffsetsToTxn, TxnOffsetCommit and EndTxn round trips, holding that producer's lock,
during which changelog sends to the partition wait. With four partitions a commit was four
such sequences long, and a batch's changelog acks waited behind it (`tally_batch_phase_seconds`
phase `durable`). The transactions are independent (one producer, one lock each), so they
are committed at once: a commit takes about one partition's round trips. What each one does,
and the errors it raises, are Faust's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Producer

_FAUST_COMMIT = "_tally_faust_commit_transactions"


async def commit_transactions(
    self: Any,
    tid_to_offset_map: Mapping[str, Mapping[Any, int]],
    group_id: str,
    start_new_transaction: bool = True,
) -> None:
    faust_commit = getattr(Producer, _FAUST_COMMIT)
    if len(tid_to_offset_map) < 2:
        await faust_commit(self, tid_to_offset_map, group_id, start_new_transaction)
        return
    # each one through Faust's own code, for its one transaction; the first error is raised
    # once all have ended (none is left half-way)
    outcomes = await asyncio.gather(
        *(
            faust_commit(self, {tid: offsets}, group_id, start_new_transaction)
            for tid, offsets in tid_to_offset_map.items()
        ),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def install() -> None:
    """Idempotent; before `transaction_watch` wraps the commit (it counts the whole)."""
    if hasattr(Producer, _FAUST_COMMIT):
        return
    setattr(Producer, _FAUST_COMMIT, Producer.commit_transactions)
    Producer.commit_transactions = commit_transactions  # type: ignore[method-assign]
