"""processors.faust_repairs.commit_watch: a stalled commit is reported, a moving one never."""

from __future__ import annotations

from collections.abc import Callable

from processors.faust_repairs.commit_watch import CommitWatch

TP = ("tally.events", 0)


def fixed(offset: int | None) -> Callable[[tuple[str, int]], int | None]:
    return lambda partition: offset


def test_a_commit_that_keeps_up_is_never_reported() -> None:
    watch = CommitWatch(stall_s=5)
    for second in range(20):
        processed = second * 10
        assert watch.stalled({TP: processed}, fixed(processed + 1), float(second)) == []


def test_a_commit_that_moves_while_behind_is_not_a_stall() -> None:
    watch = CommitWatch(stall_s=5)
    for second in range(20):
        assert watch.stalled({TP: 1_000}, fixed(second), float(second)) == []


def test_a_commit_stuck_behind_processing_is_reported_after_the_stall_time() -> None:
    watch = CommitWatch(stall_s=5)
    assert watch.stalled({TP: 100}, lambda tp: 40, 0.0) == []
    assert watch.stalled({TP: 120}, lambda tp: 40, 4.9) == []
    assert watch.stalled({TP: 130}, lambda tp: 40, 5.0) == [TP]


def test_never_committed_counts_as_behind_and_reset_forgets() -> None:
    watch = CommitWatch(stall_s=5)
    watch.stalled({TP: 3}, lambda tp: None, 0.0)
    watch.reset()
    assert watch.stalled({TP: 3}, lambda tp: None, 6.0) == []
    assert watch.stalled({TP: 3}, lambda tp: None, 11.0) == [TP]
