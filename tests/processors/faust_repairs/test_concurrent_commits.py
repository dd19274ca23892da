"""processors.faust_repairs.concurrent_commits: a commit of several partition transactions
ends them side by side, each through Faust's own code; a failure is raised once all ended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import Producer

from processors.faust_repairs import concurrent_commits


class FaustCommit:
    """Stands for Faust's `commit_transactions`: one round trip per transaction it is given."""

    def __init__(self, round_trip_s: float, fail: str | None = None) -> None:
        self.round_trip_s = round_trip_s
        self.fail = fail
        self.running = 0
        self.most_running = 0
        self.ended: list[str] = []

    async def __call__(
        self, producer: Any, offsets: dict[str, Any], group_id: str, start_new: bool
    ) -> None:
        for tid in offsets:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            await asyncio.sleep(self.round_trip_s)
            self.running -= 1
            if tid == self.fail:
                raise RuntimeError(f"{tid} fenced")
            self.ended.append(tid)


@pytest.fixture
def faust_commit(monkeypatch: pytest.MonkeyPatch) -> FaustCommit:
    concurrent_commits.install()
    commit = FaustCommit(0.05)
    monkeypatch.setattr(Producer, concurrent_commits._FAUST_COMMIT, commit)
    return commit


def offsets(count: int) -> dict[str, dict[str, int]]:
    return {f"tally-0-{p}": {f"events[{p}]": 10 * p} for p in range(count)}


def test_the_transactions_of_one_commit_end_side_by_side(faust_commit: FaustCommit) -> None:
    asyncio.run(concurrent_commits.commit_transactions(None, offsets(4), "tally"))
    assert sorted(faust_commit.ended) == sorted(offsets(4))
    assert faust_commit.most_running == 4


def test_one_transaction_is_committed_as_faust_does_it(faust_commit: FaustCommit) -> None:
    asyncio.run(concurrent_commits.commit_transactions(None, offsets(1), "tally"))
    assert faust_commit.ended == ["tally-0-0"]


def test_a_failed_transaction_is_raised_after_the_others_ended(faust_commit: FaustCommit) -> None:
    faust_commit.fail = "tally-0-1"
    with pytest.raises(RuntimeError, match="tally-0-1 fenced"):
        asyncio.run(concurrent_commits.commit_transactions(None, offsets(3), "tally"))
    assert sorted(faust_commit.ended) == ["tally-0-0", "tally-0-2"]


def test_installed_it_is_what_faust_calls() -> None:
    concurrent_commits.install()
    concurrent_commits.install()  # idempotent: Faust's own commit kept once
    faust_own = getattr(Producer, concurrent_commits._FAUST_COMMIT)
    assert faust_own is not concurrent_commits.commit_transactions
