"""Notice an assigned partition whose waiting records this worker never gets.

The fault runs' `phase-a-stall` (seeds 37 full and 5 small): a worker was assigned commands
partitions nobody had committed, `processors.rewind` sought them to their first offset, and
then nothing on them was processed for minutes, with nothing logged. Neither the hole check
(`processors.ordering`, which needs a record past a hole) nor the commit watch (which needs a
processed record) sees a partition that delivers nothing at all.

So: a partition whose log end is past the next offset this worker expects to process, while
that expected offset has not moved for `starved_s`, is starved. The worker first nudges it
(seeks it to the expected offset, resuming it if Faust left it paused); starved again for
`starved_s` after the nudge, the worker restarts and replays from the committed offsets.

Assumes the source topics hold no transaction markers (nothing produces to them inside a
transaction): a marker is an offset past the last record that would never be delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Partition = tuple[str, int]


@dataclass(frozen=True)
class Waiting:
    next_offset: int  # the next offset this worker expects to process
    end_offset: int  # the log end (the offset the next record produced will get)


@dataclass
class Verdict:
    nudge: list[Partition] = field(default_factory=list)  # seek back to the expected offset
    restart: list[Partition] = field(default_factory=list)  # nudged before, still starved


class StarvationWatch:
    def __init__(self, starved_s: float) -> None:
        self._starved_s = starved_s
        self._since: dict[Partition, tuple[int, float]] = {}  # (expected offset, since when)
        self._nudged: set[Partition] = set()

    def reset(self) -> None:
        """After a rebalance (or while one is under way): every partition starts over."""
        self._since.clear()
        self._nudged.clear()

    def check(self, partitions: Mapping[Partition, Waiting], now_s: float) -> Verdict:
        verdict = Verdict()
        for gone in set(self._since) - set(partitions):
            self._forget(gone)
        for partition, waiting in partitions.items():
            if waiting.end_offset <= waiting.next_offset:
                self._forget(partition)  # nothing waiting
                continue
            seen = self._since.get(partition)
            if seen is None or seen[0] != waiting.next_offset:
                self._since[partition] = (waiting.next_offset, now_s)  # progress
                self._nudged.discard(partition)
                continue
            if now_s - seen[1] < self._starved_s:
                continue
            if partition in self._nudged:
                verdict.restart.append(partition)
            else:
                verdict.nudge.append(partition)
                self._nudged.add(partition)
            self._since[partition] = (waiting.next_offset, now_s)  # give the nudge its time
        return verdict

    def _forget(self, partition: Partition) -> None:
        self._since.pop(partition, None)
        self._nudged.discard(partition)
