"""Notice an assigned partition whose waiting records this worker never gets.

The fault runs' `phase-a-stall` (seeds 37 full and 5 small): a worker was assigned commands
partitions nobody had committed, `processors.faust_repairs.rewind` sought them to their
first offset, and then nothing on them was processed for minutes, with nothing logged.
Neither the hole check (`processors.faust_repairs.ordering`, which needs a record past a
hole) nor the commit watch (which needs a processed record) sees a partition that delivers
nothing at all.

So: a partition whose log end is past the next offset this worker expects to process, while
that expected offset has not moved for `starved_s`, is starved. The worker first nudges it
(seeks it to the expected offset, resuming it if Faust left it paused); starved again for
`starved_s` after the nudge, the worker restarts and replays from the committed offsets.

The log end comes from the broker on every check (`Source.log_ends`, a client of its own):
the consumer's own highwater is only as fresh as its last completed fetch, and a consumer
whose fetches stopped completing saw nothing waiting (fault seeds 43 and 200).

Assumes the source topics hold no transaction markers (nothing produces to them inside a
transaction): a marker is an offset past the last record that would never be delivered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import IllegalStateError, KafkaError
from faust.types import TP

from processors import metrics
from processors.faust_repairs.processed import ProcessedOffsets
from processors.faust_repairs.restart import restart_after_crash

log = logging.getLogger("tally.worker")

Partition = tuple[str, int]
LogEndsReader = Callable[[Collection[Partition]], Awaitable[dict[Partition, int]]]


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


@dataclass(frozen=True)
class Source:
    """What the watch asks Faust's consumer about: the source partitions it was assigned."""

    consumer: Any  # Faust's consumer; its paused partitions and read offsets are private
    topics: Collection[str]
    processed: ProcessedOffsets
    committed_of: Callable[[Partition], int | None]
    log_ends: LogEndsReader  # asks the broker, not this consumer


async def nudge_or_restart(
    source: Source,
    watch: StarvationWatch,
    starved_s: float,
    restarts_max: int,
    before_restart: Callable[[], None] = lambda: None,
) -> dict[Partition, Waiting]:
    """Nudge, or restart for, assigned partitions whose waiting records never come; returns
    what each assigned partition has waiting (empty when the check could not tell)."""
    consumer = source.consumer
    try:
        waiting = await waiting_records(source)
    except (KafkaError, IllegalStateError, AssertionError) as error:
        # Broker away or a rebalance starting: the next check asks again.
        log.info("starvation check skipped: %r", error)
        watch.reset()
        return {}
    verdict = watch.check(waiting, time.monotonic())
    assigned = consumer.assignment()
    for key in verdict.nudge:
        tp, expected = TP(*key), waiting[key].next_offset
        paused = tp in consumer._paused_partitions
        log.warning(
            "starved: %s has records %d..%d waiting and none processed for %.0f s "
            "(faust paused %s, flow active %s, read offset %s); seeking to %d",
            tp, expected, waiting[key].end_offset - 1, starved_s,
            paused, consumer.flow_active, consumer._read_offset.get(tp), expected,
        )  # fmt: skip
        if tp not in assigned:
            continue
        if paused:
            consumer.resume_partitions({tp})
        await consumer.seek(tp, expected)
        metrics.DELIVERY_REPAIRS.labels("starved_seek").inc()
    if verdict.restart:
        log.critical("still starved after a nudge: %s; restarting to replay", verdict.restart)
        before_restart()
        restart_after_crash(restarts_max, f"starved partitions {verdict.restart}")
    return waiting


async def waiting_records(source: Source) -> dict[Partition, Waiting]:
    """(topic, partition) -> the next offset this worker expects and the log end, for every
    assigned source partition."""
    consumer = source.consumer
    assigned = [tp for tp in consumer.assignment() if tp.topic in source.topics]
    if not assigned:
        return {}
    expected: dict[TP, int] = {}
    for tp in assigned:
        last = source.processed.last.get((tp.topic, tp.partition))
        offset = last + 1 if last is not None else source.committed_of((tp.topic, tp.partition))
        if offset is not None:
            expected[tp] = offset
    never_read = [tp for tp in assigned if tp not in expected]
    if never_read:  # nothing processed or committed: the partition starts at its first offset
        expected.update(await consumer.earliest_offsets(*never_read))
    ends = await _log_ends(source, assigned)
    return {
        (tp.topic, tp.partition): Waiting(next_offset=expected[tp], end_offset=end)
        for tp in assigned
        if tp in expected and (end := ends.get(tp)) is not None
    }


async def _log_ends(source: Source, assigned: list[TP]) -> dict[TP, int | None]:
    """The broker's answer, or, when it cannot be had, the last fetch's highwater (and, for
    a partition no fetch told yet, Faust's consumer asks)."""
    ends: dict[TP, int | None] = {tp: source.consumer.highwater(tp) for tp in assigned}
    try:
        asked = await source.log_ends([(tp.topic, tp.partition) for tp in assigned])
    except (KafkaError, TimeoutError) as error:
        log.info("log ends not asked of the broker (%r): judging by the last fetch", error)
        asked = {}
    for tp in assigned:
        end = asked.get((tp.topic, tp.partition))
        if end is not None:
            ends[tp] = max(end, ends[tp] or 0)
    unknown_ends = [tp for tp, end in ends.items() if end is None]
    if unknown_ends:
        ends.update(await source.consumer.highwaters(*unknown_ends))
    return ends
