"""Seek partitions that were never committed back to their first offset whenever Faust seeks
its partitions to their committed offsets.

Faust drops records it fetched while a rebalance was under way (flow stopped, or the
generation changed in the middle of a fetched batch) and relies on `Consumer.perform_seek`
("Seek stream partitions to committed offsets") to fetch them again. But aiokafka's
`seek_to_committed` only seeks a partition whose committed offset is above 0: a partition
nobody committed yet keeps its fetch position past the dropped records, and they are never
delivered. Nothing later notices: `processors.faust_repairs.ordering` has no expected
offset for such a partition, and Faust commits the next records it gets, past the hole. Seen
in the fault runs (devtools.faults, "phase A committed" timeouts): commands sent to a fresh
partition while the second worker joined the group were never decided, and their offsets
were committed past them; or a restarted worker never got a partition's first commands at
all.

The partition's "committed position" is its first offset (`auto_offset_reset=earliest`), so
this seeks there explicitly. Records processed before the drop come again; the folds are
idempotent (event ids, request ids).

The seek comes a round trip after Faust resumed the partitions, and records fetched meanwhile
are delivered: fault seed 6 (a 1.0 s commit interval) had a reserve decided from its resend
at offset 1, its first send at offset 0 never delivered, and the answer's expiry clock taken
from the resend. So the first offsets found are kept for the assignment (`log_starts`): the
ordering repair expects a never-committed partition to start there, and seeks back to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from aiokafka.errors import IllegalStateError, KafkaError

log = logging.getLogger("tally.rewind")

_INSTALLED = "_tally_rewinds_uncommitted"
_LOG_STARTS = "_tally_log_starts"  # TP -> first offset of a never-committed partition


async def rewind_uncommitted(consumer: Any, topics: Collection[str]) -> dict[Any, int]:
    """Seek every assigned partition of `topics` without a committed offset to its first
    offset (Faust's `Consumer`). Returns the partitions sought and their offsets."""
    committed = consumer._committed_offset  # Faust's bookkeeping; None or 0: never committed
    uncommitted = [
        tp for tp in consumer.assignment() if tp.topic in topics and not committed.get(tp)
    ]
    if not uncommitted:
        return {}
    firsts = await consumer.earliest_offsets(*uncommitted)
    assigned = consumer.assignment()
    sought: dict[Any, int] = {}
    for tp in uncommitted:
        if tp in assigned and tp in firsts and not committed.get(tp):
            await consumer.seek(tp, firsts[tp])
            sought[tp] = firsts[tp]
    log_starts(consumer).update(sought)
    return sought


def forget_log_starts(consumer: Any) -> None:
    """A new assignment: what was found for the last one no longer holds."""
    setattr(consumer, _LOG_STARTS, {})


def log_starts(consumer: Any) -> dict[Any, int]:
    """The first offsets of never-committed partitions found since the assignment began
    (keyed by faust's `TP`, a NamedTuple: it equals and hashes as the plain (topic,
    partition) tuple)."""
    starts: dict[Any, int] | None = getattr(consumer, _LOG_STARTS, None)
    if starts is None:
        starts = {}
        setattr(consumer, _LOG_STARTS, starts)
    return starts


def install(consumer: Any, topics: Collection[str]) -> None:
    """Make the consumer's `perform_seek` also rewind never-committed partitions of `topics`.
    Idempotent (call it on every assignment)."""
    if getattr(consumer, _INSTALLED, False):
        return
    perform_seek: Callable[[], Coroutine[Any, Any, None]] = consumer.perform_seek

    async def perform_seek_and_rewind() -> None:
        await perform_seek()
        try:
            sought = await rewind_uncommitted(consumer, topics)
        except (IllegalStateError, KafkaError, AssertionError) as error:
            # Revoked meanwhile (a rebalance in progress): the next assignment seeks again.
            log.warning("could not seek uncommitted partitions to their start: %r", error)
            return
        if sought:
            log.info("no committed offset: sought %s to their first offsets", _brief(sought))

    consumer.perform_seek = perform_seek_and_rewind
    setattr(consumer, _INSTALLED, True)


def _brief(sought: dict[Any, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(sought.items()))
