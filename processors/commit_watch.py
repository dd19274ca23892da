"""Notice when Faust stops committing a partition this worker keeps processing.

faust-streaming #596: a race at the end of recovery can drop fetched messages without
acking them; Faust then never commits past the hole, and (exactly-once) the partition's
transaction never commits, so its table updates stay invisible. Processing goes on, so
only the committed offset shows it. A partition whose committed offset stays behind what
was processed for `stall_s` is reported; the worker then restarts and replays from the
committed offset (folds are idempotent, so the replay is harmless).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Partition = tuple[str, int]


class CommitWatch:
    def __init__(self, stall_s: float) -> None:
        self._stall_s = stall_s
        self._behind_since: dict[Partition, tuple[int | None, float]] = {}

    def reset(self) -> None:
        """After a rebalance: partitions and their commits start over."""
        self._behind_since.clear()

    def stalled(
        self,
        processed: Mapping[Partition, int],
        committed_of: Callable[[Partition], int | None],
        now_s: float,
    ) -> list[Partition]:
        """Partitions whose commit has not moved, while behind, for `stall_s` or longer.

        `processed` holds the last offset processed; a committed offset is the next offset
        to read, so a partition is caught up when committed > last processed.
        """
        stalled: list[Partition] = []
        for partition, last_processed in processed.items():
            committed = committed_of(partition)
            if committed is not None and committed > last_processed:
                self._behind_since.pop(partition, None)
                continue
            seen = self._behind_since.get(partition)
            if seen is None or seen[0] != committed:
                self._behind_since[partition] = (committed, now_s)
            elif now_s - seen[1] >= self._stall_s:
                stalled.append(partition)
        return stalled
