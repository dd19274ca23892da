"""Commit the partitions' transactions side by side, not one after another.

faust-streaming 0.15's `Producer.commit_transactions` walks the transactional ids in turn:
for each, under its lock, the offsets (AddOffsetsToTxn, TxnOffsetCommit), the commit (EndTxn)
and the next transaction's begin. Each id has its own producer and connections, so its round
trips wait on nothing of another's; in turn, a commit of four partitions took four times one
(the bench's `commits.mean_ms`: 53 ms at 25 % load against 15 at a trickle), and a batch
writing to several partitions could meet each partition's lock held in turn.

Here each id runs exactly Faust's steps, under its own lock, all ids at once. The call ends
when every one has: a failure is raised only then (the first, in the map's order), so no
commit is left running behind an error, and, as in Faust's loop, the ids that committed stay
committed (each transaction is atomic on its own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Producer

log = logging.getLogger("tally.worker")
_INSTALLED = "_tally_commits_concurrently"


async def commit_transactions(
    self: Any,
    tid_to_offset_map: Mapping[str, Mapping[Any, int]],
    group_id: str,
    start_new_transaction: bool = True,
) -> None:
    """`Producer.commit_transactions`, its transactional ids committed concurrently."""
    outcomes = await asyncio.gather(
        *(
            commit_one(self, transactional_id, offsets, group_id, start_new_transaction)
            for transactional_id, offsets in tid_to_offset_map.items()
        ),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def commit_one(
    producer: Any,
    transactional_id: str,
    offsets: Mapping[Any, int],
    group_id: str,
    start_new_transaction: bool,
) -> None:
    """Faust's steps for one transactional id, under its transaction lock."""
    async with producer._trn_locks[transactional_id]:
        transactional = producer._transaction_producers.get(transactional_id)
        if transactional is None:
            log.warning("commit invoked for unknown transaction %s", transactional_id)
            return
        await transactional.send_offsets_to_transaction(offsets, group_id)
        await transactional.commit_transaction()
        if start_new_transaction:
            await transactional.begin_transaction()


def install() -> None:
    """Idempotent; before any repair that wraps `commit_transactions` (they wrap this)."""
    if getattr(Producer, _INSTALLED, False):
        return
    Producer.commit_transactions = commit_transactions  # type: ignore[method-assign]
    setattr(Producer, _INSTALLED, True)
