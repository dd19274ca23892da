"""A changelog partition's recovery starts from what the local store holds, never from an
offset held only in memory.

faust-streaming 0.15's `Recovery` keeps, per changelog partition, the offset it has read up
to in a counter. On each rebalance it takes the store's persisted offset when the store has
one; when it has none (a partition this worker never applied anything of: one it takes over
from another worker, or any after its store was wiped) it keeps whatever the counter held.
Under exactly-once, `detect_aborted_tx` moves that counter to the highwater once the
consumer's position has passed it, taking the records in between for aborted transactions;
but records fetched by a recovery that the next rebalance cut short were never applied,
though the position had passed them. The next recovery then starts at the highwater: the new
owner restores nothing and folds the source topics from their committed offsets on top of
an empty state, and its table falls behind the log ("table-behind-log"). Found by fault seed
12 on a three-broker cluster: a broker killed, a worker stalled past its session and fenced,
three rebalances in 12 s; the taken-over partition 2 started reading at offset 75 of 75
(`Reading Starts At` in the log), and its SKUs lost their stock and their decisions.

The repair: when the store holds no offset for a partition, forget the counter's, so
recovery reads that changelog partition from its start.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.tables.recovery import Recovery

_INSTALLED = "_tally_recovers_from_the_store"


def _add_from_store(recovery: Any, table: Any, tp: Any, offsets: Counter[Any]) -> None:
    """Recovery._add: the partition's starting offset is the store's (None: from the start)."""
    recovery.tp_to_table[tp] = table
    offsets[tp] = table.persisted_offset(tp)


def install() -> None:
    """Replace Faust's `Recovery._add` (idempotent)."""
    if getattr(Recovery, _INSTALLED, False):
        return
    Recovery._add = _add_from_store  # type: ignore[method-assign,assignment]
    setattr(Recovery, _INSTALLED, True)
