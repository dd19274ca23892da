"""An order table's rows written as the worker writes its positions: each partition's keys in
one RocksDB write batch, their changelog records handed to Kafka in the same step
(faust_repairs.changelog_sends).

So under exactly_once (`TALLY_ORDERS__PROCESSING_GUARANTEE`) a partition whose store holds
writes no commit covered is rebuilt from its changelog at a rebalance
(faust_repairs.dirty_store), as the worker's is. Faust's own `table[key] = value` path is not
tracked: its store kept rows an aborted transaction never committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from processors.faust_repairs import ChangelogRecord, ChangelogSender, FaustRepairs


async def write_rows(
    repairs: FaustRepairs, table: Any, changelog: ChangelogSender, rows: Sequence[ChangelogRecord]
) -> None:
    """Write `rows` to `table`'s stores and its changelog; returns once Kafka acknowledged
    every changelog record."""
    if not rows:
        return
    by_partition: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
    for partition, key, value in rows:
        by_partition[partition].append((key, value))
    for partition, writes in by_partition.items():
        repairs.write_store(table, partition, writes)
    await changelog.send(rows)  # no await before it: the store writes and the send are one step
