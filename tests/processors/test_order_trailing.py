"""Work that runs behind the batch that started it: one at a time, in order, failures seen."""

from __future__ import annotations

import asyncio

import pytest

from processors.orders.trailing import Trailing


def test_each_work_starts_after_the_previous_ended_and_runs_behind_the_caller() -> None:
    log: list[str] = []

    async def work(name: str, gate: asyncio.Event) -> None:
        log.append(f"{name} start")
        await gate.wait()
        log.append(f"{name} end")

    async def run() -> None:
        trailing, first, second = Trailing(), asyncio.Event(), asyncio.Event()
        await trailing.start(lambda: work("a", first))
        log.append("caller goes on")  # before `a` ended: it runs behind
        await asyncio.sleep(0)
        starting = asyncio.ensure_future(trailing.start(lambda: work("b", second)))
        await asyncio.sleep(0.01)
        assert not starting.done()  # waits for `a`
        first.set()
        await starting
        second.set()
        await trailing.drain()

    asyncio.run(run())
    assert log == ["caller goes on", "a start", "a end", "b start", "b end"]


def test_a_failure_is_raised_to_the_next_start_and_that_work_never_runs() -> None:
    ran: list[str] = []

    async def fail() -> None:
        raise ConnectionError("redis gone")

    async def record() -> None:
        ran.append("next")

    async def run() -> None:
        trailing = Trailing()
        await trailing.start(fail)
        with pytest.raises(ConnectionError):
            await trailing.start(record)
        await trailing.drain()  # nothing left in flight

    asyncio.run(run())
    assert ran == []


def test_drain_raises_the_last_failure_and_is_then_clear() -> None:
    async def fail() -> None:
        raise ValueError("bad view")

    async def run() -> None:
        trailing = Trailing()
        await trailing.start(fail)
        with pytest.raises(ValueError):
            await trailing.drain()
        await trailing.drain()

    asyncio.run(run())
