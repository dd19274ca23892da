"""processors.faust_repairs.concurrent_commits: each transactional id runs Faust's commit steps
(offsets, commit, next begin) under its own lock, all ids at once; a failure is raised once
every id has ended, and the others still commit; an unknown id is skipped; installed under
the repairs that wrap Faust's commit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import ProducerFenced
from faust.transport.drivers.aiokafka import Producer

from processors.faust_repairs import FaustRepairs, concurrent_commits

GROUP = "tally"


class FakeTransactional:
    """A transactional producer whose offsets step waits until `release` is set."""

    def __init__(self, name: str, log: list[str], release: asyncio.Event, lock: Any) -> None:
        self.name, self.log, self.release, self.lock = name, log, release, lock
        self.fail: BaseException | None = None
        self.locked_throughout = True

    async def send_offsets_to_transaction(self, offsets: Any, group_id: str) -> None:
        assert group_id == GROUP
        self.log.append(f"{self.name} offsets {dict(offsets)}")
        await self.release.wait()
        self.locked_throughout &= self.lock.locked()
        if self.fail is not None:
            raise self.fail

    async def commit_transaction(self) -> None:
        self.locked_throughout &= self.lock.locked()
        self.log.append(f"{self.name} commit")

    async def begin_transaction(self) -> None:
        self.locked_throughout &= self.lock.locked()
        self.log.append(f"{self.name} begin")


def faust_producer(names: list[str]) -> tuple[Any, list[str], asyncio.Event]:
    log: list[str] = []
    release = asyncio.Event()
    locks = {name: asyncio.Lock() for name in names}
    producers = {name: FakeTransactional(name, log, release, locks[name]) for name in names}
    return SimpleNamespace(_trn_locks=locks, _transaction_producers=producers), log, release


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0)


def test_every_id_sends_its_offsets_before_any_commit_ends() -> None:
    async def scenario() -> tuple[Any, list[str]]:
        producer, log, release = faust_producer(["t-0", "t-1", "t-2"])
        offsets = {name: {f"tp-{n}": 10 + n} for n, name in enumerate(["t-0", "t-1", "t-2"])}
        commit = asyncio.ensure_future(
            concurrent_commits.commit_transactions(producer, offsets, GROUP)
        )
        # all three are inside their offsets step at once: side by side, not in turn
        await asyncio.wait_for(_until(lambda: len(log) == 3), 1)
        assert all(producer._trn_locks[name].locked() for name in offsets)
        release.set()
        await commit
        return producer, log

    producer, log = asyncio.run(scenario())
    assert log[:3] == [
        "t-0 offsets {'tp-0': 10}",
        "t-1 offsets {'tp-1': 11}",
        "t-2 offsets {'tp-2': 12}",
    ]
    for name in ("t-0", "t-1", "t-2"):
        steps = [entry for entry in log if entry.startswith(name)]
        assert [step.split()[1] for step in steps] == ["offsets", "commit", "begin"]
        assert producer._transaction_producers[name].locked_throughout
        assert not producer._trn_locks[name].locked()


def test_no_new_transaction_is_begun_when_told_not_to() -> None:
    async def scenario() -> list[str]:
        producer, log, release = faust_producer(["t-0"])
        release.set()
        await concurrent_commits.commit_transactions(
            producer, {"t-0": {"tp": 1}}, GROUP, start_new_transaction=False
        )
        return log

    assert asyncio.run(scenario()) == ["t-0 offsets {'tp': 1}", "t-0 commit"]


def test_a_failure_is_raised_after_the_others_committed() -> None:
    async def scenario() -> list[str]:
        producer, log, release = faust_producer(["t-0", "t-1"])
        producer._transaction_producers["t-0"].fail = ProducerFenced()
        release.set()
        with pytest.raises(ProducerFenced):
            await concurrent_commits.commit_transactions(
                producer, {"t-0": {"a": 1}, "t-1": {"b": 2}}, GROUP
            )
        assert not producer._trn_locks["t-0"].locked()
        return log

    log = asyncio.run(scenario())
    assert "t-1 commit" in log and "t-1 begin" in log
    assert "t-0 commit" not in log


def test_an_unknown_transactional_id_is_skipped() -> None:
    async def scenario() -> list[str]:
        producer, log, release = faust_producer(["t-0"])
        producer._trn_locks["t-9"] = asyncio.Lock()
        release.set()
        await concurrent_commits.commit_transactions(
            producer, {"t-9": {"x": 1}, "t-0": {"tp": 1}}, GROUP
        )
        return log

    assert asyncio.run(scenario()) == ["t-0 offsets {'tp': 1}", "t-0 commit", "t-0 begin"]


def test_the_installed_commit_runs_the_ids_side_by_side_under_the_wrappers() -> None:
    """After every repair is installed, Faust's Producer commits concurrently (the counting
    and dirty-store wrappers sit on top of this repair, not under it)."""
    FaustRepairs.install()

    async def scenario() -> list[str]:
        producer, log, release = faust_producer(["t-0", "t-1"])
        producer.app = SimpleNamespace(tables={})
        installed: Any = Producer.commit_transactions
        commit = asyncio.ensure_future(
            installed(producer, {"t-0": {"a": 1}, "t-1": {"b": 2}}, GROUP)
        )
        await asyncio.wait_for(_until(lambda: len(log) == 2), 1)
        release.set()
        await commit
        return log

    log = asyncio.run(scenario())
    assert [entry.split()[1] for entry in log[:2]] == ["offsets", "offsets"]
    assert sorted(log[2:]) == ["t-0 begin", "t-0 commit", "t-1 begin", "t-1 commit"]
