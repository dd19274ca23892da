"""processors.faust_repairs.starvation_watch: records waiting that never get processed are
noticed; a partition that makes progress, or has nothing waiting, never is."""

from __future__ import annotations

from processors.faust_repairs.starvation_watch import StarvationWatch, Waiting

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
