"""A changelog partition's recovery starts from what the local store holds, never from an
offset held only in memory.

faust-streaming 0.15's `Recovery` keeps, per changelog partition, the offset it has read up
to in a counter, and seeks the recovery consumer there. The counter takes the store's
persisted offset at each rebalance when the store has one; when it has none (a partition
this worker never applied anything of: one it takes over from another worker, or any after
its store was wiped) it keeps whatever it held. Under exactly-once, `detect_aborted_tx` (run
on every idle spell of the changelog queue) moves the counter to the highwater once the
consumer's position has passed it, taking the records in between for aborted transactions;
but a recovery that the next rebalance cut short had fetched records it never applied, and
the consumer's position still said so until the next recovery sought it. The next recovery
then started at the highwater: the new owner restored nothing and folded the source topics
from their committed offsets on top of an empty state, its table behind the log
("table-behind-log"). Found by fault seed 12 on a three-broker cluster: a broker killed, a
worker stalled past its session and fenced, three rebalances in 12 s; worker 0's log shows
"Aborted tx until highwater" for the partition it had just taken over, between the
assignment and the recovery, which then started reading at offset 75 of 75; its SKUs lost
their stock, and reserves were refused for lack of it.

The repair: each recovery's starting offsets are the store's persisted ones (no offset: the
partition's start) merged with the log's earliest offsets as Faust does, and the seek that
starts the recovery uses those, whatever moved the counter in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from faust.tables.recovery import Recovery

_INSTALLED = "_tally_recovers_from_the_store"
_STARTS = "_tally_recovery_starts"  # tp -> the offset the current recovery starts from
ACTIVE = "active"

Offsets = Callable[[Any, Any, set[Any], Counter[Any], str], Awaitable[None]]


def from_the_store(build_offsets: Offsets) -> Offsets:
    """`Recovery._build_offsets` whose active offsets start from the store's."""

    async def build(
        recovery: Any, consumer: Any, tps: set[Any], destination: Counter[Any], title: str
    ) -> None:
        if title == ACTIVE:
            for tp in tps:
                destination[tp] = recovery.tp_to_table[tp].persisted_offset(tp)
        await build_offsets(recovery, consumer, tps, destination, title)
        if title == ACTIVE:
            setattr(recovery, _STARTS, {tp: destination[tp] for tp in tps})

    return build


def at_the_starts(seek_offsets: Offsets) -> Offsets:
    """`Recovery._seek_offsets` that seeks active partitions to the offsets built for
    this recovery, even if the counter was moved since."""

    async def seek(
        recovery: Any, consumer: Any, tps: set[Any], offsets: Counter[Any], title: str
    ) -> None:
        if title == ACTIVE:
            starts: dict[Any, Any] = getattr(recovery, _STARTS, {})
            for tp in tps:
                if tp in starts:
                    offsets[tp] = starts[tp]
        await seek_offsets(recovery, consumer, tps, offsets, title)

    return seek


def install() -> None:
    """Wrap Faust's `Recovery._build_offsets` and `_seek_offsets` (idempotent)."""
    if getattr(Recovery, _INSTALLED, False):
        return
    Recovery._build_offsets = from_the_store(Recovery._build_offsets)  # type: ignore[method-assign,assignment]
    Recovery._seek_offsets = at_the_starts(Recovery._seek_offsets)  # type: ignore[method-assign,assignment]
    setattr(Recovery, _INSTALLED, True)
