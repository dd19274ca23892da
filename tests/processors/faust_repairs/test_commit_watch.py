"""processors.faust_repairs.commit_watch: a stalled commit is reported, a moving one never; a
hung offsets commit restarts the worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from processors.faust_repairs import commit_watch
from processors.faust_repairs.commit_watch import CommitWatch, commit_hung
from processors.faust_repairs.processed import ProcessedOffsets

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


def test_no_commit_in_flight_never_hangs() -> None:
    assert not commit_hung(None, 100.0, 1_000.0, hang_s=15)


def test_a_commit_shorter_than_the_bound_is_not_hung() -> None:
    assert not commit_hung(100.0, 110.0, 114.9, hang_s=15)


def test_a_long_commit_with_no_batch_since_it_began_waits_for_the_broker() -> None:
    """A broker away delivers nothing either: the commit is left to finish."""
    assert not commit_hung(100.0, 99.0, 200.0, hang_s=15)
    assert not commit_hung(100.0, None, 200.0, hang_s=15)


def test_a_long_commit_while_batches_still_came_is_hung() -> None:
    """Fault seed 8: send_offsets_to_transaction never returned after a broker restart."""
    assert commit_hung(100.0, 130.0, 115.0, hang_s=15)


class Restarted(Exception):
    pass


def test_a_hung_commit_restarts_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def restart(restarts_max: int, reason: str) -> None:
        raise Restarted(reason)

    monkeypatch.setattr(commit_watch, "restart_after_crash", restart)
    monkeypatch.setattr(time, "monotonic", lambda: 1_000.0)
    processed = ProcessedOffsets(noted_at=990.0)
    commit_watch.restart_if_commit_hung(SimpleNamespace(), processed, 15, 3)  # none in flight
    with pytest.raises(Restarted, match="commit hung"):
        producer = SimpleNamespace(_tally_commit_began=900.0)
        commit_watch.restart_if_commit_hung(producer, processed, 15, 3)


def test_a_batch_is_noted_with_its_time_and_a_new_assignment_forgets_it() -> None:
    processed = ProcessedOffsets()
    processed.note([])
    assert processed.noted_at is None
    processed.note([SimpleNamespace(message=SimpleNamespace(topic="t", partition=0, offset=3))])
    assert processed.noted_at is not None
    processed.clear()
    assert processed.noted_at is None
