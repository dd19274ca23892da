"""Notice when Faust stops committing a partition this worker keeps processing.

faust-streaming #596: a race at the end of recovery can drop fetched messages without
acking them; Faust then never commits past the hole, and (exactly-once) the partition's
transaction never commits, so its table updates stay invisible. Processing goes on, so
only the committed offset shows it. A partition whose committed offset stays behind what
was processed for `stall_s` is reported; the worker then restarts and replays from the
committed offset (folds are idempotent, so the replay is harmless).

A commit can also hang in aiokafka's transactional calls: after a broker restart a
`send_offsets_to_transaction` waited forever (fault seed 8, sixteenth session), records went
on being delivered and processed, and nothing ever committed again; filling acks could not
help (none were missing). An offsets commit in flight for `stall_s` while batches still came
after it began restarts the worker; a commit slow because the broker is away delivers no
batch meanwhile, and is left to finish.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from faust.types import TP

from processors import metrics
from processors.faust_repairs.processed import ProcessedOffsets
from processors.faust_repairs.restart import restart_after_crash
from processors.faust_repairs.transaction_watch import commit_began

log = logging.getLogger("tally.worker")

Partition = tuple[str, int]


class CommitWatch:
    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
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
            elif now_s - seen[1] >= self.stall_s:
                stalled.append(partition)
        return stalled


def fill_lost_acks_or_restart(
    consumer: Any,
    watch: CommitWatch,
    processed: ProcessedOffsets,
    committed_of: Callable[[Partition], int | None],
    restarts_max: int,
) -> None:
    """Unblock or restart a partition whose commits stalled (faust-streaming #596 family).

    `consumer` is Faust's; its private commit bookkeeping is what goes wrong in #596. When
    this worker processed every offset from the committed one on (no hole in what it saw),
    the stall is only Faust's ack bookkeeping: the missing acks are filled in and commits
    resume. Otherwise records were never delivered: restart and replay them.
    """
    assigned = consumer.assignment()
    last_of = processed.last
    in_hand = {key: o for key, o in last_of.items() if TP(*key) in assigned}
    stalled = watch.stalled(in_hand, committed_of, time.monotonic())
    replay: list[Partition] = []
    for topic, partition in stalled:
        tp, key = TP(topic, partition), (topic, partition)
        start, first = committed_of(key), processed.first.get(key)
        acked = sorted(consumer._acked.get(tp, []))
        log.critical(
            "commit stalled on %s: committed %s, processed %s..%s, hole %s, acked head %s",
            tp, start, first, last_of.get(key), key in processed.holes, acked[:3],
        )  # fmt: skip
        if (
            start is not None
            and first is not None
            and first <= start
            and key not in processed.holes
        ):
            missing = range(start, acked[0] if acked else last_of[key] + 1)
            consumer._acked[tp].extend(missing)
            consumer._acked[tp].sort()
            consumer._acked_index[tp].update(missing)
            log.warning("filled in %d acks Faust lost on %s; commits resume", len(missing), tp)
            metrics.DELIVERY_REPAIRS.labels("acks_filled").inc()
        else:
            replay.append(key)
    if replay:
        log.critical("records never delivered on %s; restarting to replay them", replay)
        restart_after_crash(restarts_max, f"commits stalled {replay}")


def commit_hung(
    began_s: float | None, last_batch_s: float | None, now_s: float, hang_s: float
) -> bool:
    """An offsets commit in flight for `hang_s` or longer, with a batch delivered after it
    began (the broker answers this worker; the commit should have finished)."""
    if began_s is None or last_batch_s is None:
        return False
    return now_s - began_s >= hang_s and last_batch_s > began_s


def restart_if_commit_hung(
    producer: Any, processed: ProcessedOffsets, hang_s: float, restarts_max: int
) -> None:
    """Restart the worker to replay from its committed offsets if Faust's offsets commit
    (`producer`'s) hangs (`commit_hung`)."""
    began = commit_began(producer)
    now = time.monotonic()
    if not commit_hung(began, processed.noted_at, now, hang_s):
        return
    assert began is not None
    log.critical(
        "offsets commit in flight for %.0f s while records kept coming; restarting to replay "
        "from the committed offsets",
        now - began,
    )
    restart_after_crash(restarts_max, "offsets commit hung")
