"""processors.faust_repairs.starvation_watch: records waiting that never get processed are
noticed; a partition that makes progress, or has nothing waiting, never is."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from types import SimpleNamespace

import pytest
from faust.types import TP as FaustTP

from processors.faust_repairs import starvation_watch
from processors.faust_repairs.processed import ProcessedOffsets
from processors.faust_repairs.starvation_watch import (
    LogEndsReader,
    Partition,
    Source,
    StarvationWatch,
    Waiting,
    nudge_or_restart,
    waiting_records,
)

TP = ("tally.commands", 1)


def test_a_partition_that_keeps_processing_is_never_starved() -> None:
    watch = StarvationWatch(starved_s=5)
    for second in range(60):
        verdict = watch.check({TP: Waiting(next_offset=second, end_offset=1_000)}, float(second))
        assert verdict.nudge == [] and verdict.restart == []


def test_an_idle_partition_with_nothing_waiting_is_never_starved() -> None:
    watch = StarvationWatch(starved_s=5)
    for second in range(60):
        verdict = watch.check({TP: Waiting(next_offset=42, end_offset=42)}, float(second))
        assert verdict.nudge == [] and verdict.restart == []


def test_records_waiting_without_progress_are_nudged_then_restarted() -> None:
    watch = StarvationWatch(starved_s=5)
    waiting = {TP: Waiting(next_offset=0, end_offset=7)}
    assert watch.check(waiting, 0.0).nudge == []
    assert watch.check(waiting, 4.9).nudge == []
    first = watch.check(waiting, 5.0)
    assert first.nudge == [TP] and first.restart == []
    assert watch.check(waiting, 9.9).restart == []  # the nudge gets its own starved_s
    second = watch.check(waiting, 10.0)
    assert second.restart == [TP] and second.nudge == []


def test_progress_after_a_nudge_clears_it() -> None:
    watch = StarvationWatch(starved_s=5)
    watch.check({TP: Waiting(0, 7)}, 0.0)
    assert watch.check({TP: Waiting(0, 7)}, 5.0).nudge == [TP]
    watch.check({TP: Waiting(3, 7)}, 6.0)  # the nudge worked: records flow again
    assert watch.check({TP: Waiting(3, 9)}, 11.0).nudge == [TP]  # a new stall starts over
    assert watch.check({TP: Waiting(3, 9)}, 11.5).restart == []


def test_reset_and_revocation_forget_a_partition() -> None:
    watch = StarvationWatch(starved_s=5)
    watch.check({TP: Waiting(0, 7)}, 0.0)
    watch.reset()
    assert watch.check({TP: Waiting(0, 7)}, 6.0).nudge == []
    watch.check({}, 7.0)  # revoked
    assert watch.check({TP: Waiting(0, 7)}, 12.0).nudge == []


class _StaleConsumer:
    """Faust's consumer as the watch reads it, whose fetches stopped completing: its
    highwater is the offset it last fetched up to (pure unit test; no broker)."""

    def __init__(self, highwater: int | None) -> None:
        self._highwater = highwater
        self.asked_highwaters = False

    def assignment(self) -> set[FaustTP]:
        return {FaustTP(*TP), FaustTP("tally-positions-changelog", 1)}

    def highwater(self, tp: FaustTP) -> int | None:
        return self._highwater

    async def highwaters(self, *tps: FaustTP) -> dict[FaustTP, int]:
        self.asked_highwaters = True
        return dict.fromkeys(tps, 5)

    async def earliest_offsets(self, *tps: FaustTP) -> dict[FaustTP, int]:
        return dict.fromkeys(tps, 0)


def _source(consumer: _StaleConsumer, log_ends: LogEndsReader) -> Source:
    processed = ProcessedOffsets()
    processed.last[TP] = 41  # processed up to 41: the next one expected is 42
    return Source(consumer, [TP[0]], processed, lambda _: None, log_ends)


def test_the_broker_s_log_end_shows_records_a_stale_fetch_does_not() -> None:
    async def broker(partitions: Collection[Partition]) -> dict[Partition, int]:
        assert list(partitions) == [TP]  # the source partitions only
        return {TP: 50}

    waiting = asyncio.run(waiting_records(_source(_StaleConsumer(highwater=42), broker)))
    assert waiting == {TP: Waiting(next_offset=42, end_offset=50)}


def test_without_the_broker_the_last_fetch_still_judges() -> None:
    async def away(partitions: Collection[Partition]) -> dict[Partition, int]:
        raise TimeoutError

    consumer = _StaleConsumer(highwater=None)
    waiting = asyncio.run(waiting_records(_source(consumer, away)))
    assert waiting == {TP: Waiting(next_offset=42, end_offset=5)}  # Faust's consumer asked
    assert consumer.asked_highwaters

    waiting = asyncio.run(waiting_records(_source(_StaleConsumer(highwater=60), away)))
    assert waiting == {TP: Waiting(next_offset=42, end_offset=60)}


def test_a_stale_consumer_is_nudged_after_starved_s_by_the_broker_s_answer() -> None:
    async def broker(partitions: Collection[Partition]) -> dict[Partition, int]:
        return {TP: 50}

    source = _source(_StaleConsumer(highwater=42), broker)
    watch = StarvationWatch(starved_s=5)
    waiting = asyncio.run(waiting_records(source))
    assert watch.check(waiting, 0.0).nudge == []
    assert watch.check(asyncio.run(waiting_records(source)), 5.0).nudge == [TP]


def test_a_restart_for_starvation_runs_the_hook_first(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broker(partitions: Collection[Partition]) -> dict[Partition, int]:
        return {TP: 50}

    events: list[str] = []
    clock = iter([0.0, 5.0, 10.0])
    monkeypatch.setattr(starvation_watch, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    monkeypatch.setattr(
        starvation_watch, "restart_after_crash", lambda *_: events.append("restart")
    )

    class Nudgeable(_StaleConsumer):
        _paused_partitions: set[FaustTP] = set()  # noqa: RUF012
        _read_offset: dict[FaustTP, int] = {}  # noqa: RUF012
        flow_active = True

        async def seek(self, tp: FaustTP, offset: int) -> None:
            events.append(f"seek {offset}")

    source = _source(Nudgeable(highwater=42), broker)
    watch = StarvationWatch(starved_s=5)

    async def three_checks() -> None:
        for _ in range(3):
            await nudge_or_restart(source, watch, 5, 3, lambda: events.append("dump"))

    asyncio.run(three_checks())
    assert events == ["seek 42", "dump", "restart"]
