"""processors.task_dump: SIGUSR1 logs where each task waits (a stalled worker's only clue)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

import pytest

from processors.task_dump import await_chain, dump_on_signal, task_dump, task_lines


async def _inner(lock: asyncio.Lock) -> None:
    async with lock:
        pass


async def _outer(lock: asyncio.Lock) -> None:
    await _inner(lock)


async def _lines_of_a_task_waiting_on_a_lock() -> tuple[list[str], list[str]]:
    lock = asyncio.Lock()
    await lock.acquire()
    task = asyncio.create_task(_outer(lock), name="blocked")
    await asyncio.sleep(0)  # it runs until it waits for the lock
    try:
        return await_chain(task.get_coro()), task_lines(task)
    finally:
        lock.release()
        await task


def test_the_chain_goes_from_the_task_to_the_future_it_waits_on() -> None:
    chain, lines = asyncio.run(_lines_of_a_task_waiting_on_a_lock())
    names = [step.rsplit(" ", 1)[-1] for step in chain]
    assert names[:2] == ["_outer", "_inner"]
    assert names[-1] == "acquire"  # asyncio.Lock's, the innermost coroutine
    assert lines[0] == "task blocked:"
    assert lines[-1].startswith("    waiting on <Future pending")


async def _dump_after_sigusr1(state: list[str]) -> None:
    lock = asyncio.Lock()
    await lock.acquire()
    blocked = asyncio.create_task(_outer(lock), name="blocked-on-lock")
    dump_on_signal(asyncio.get_running_loop(), lambda: state)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.05)  # the handler runs on the loop
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
        lock.release()
        await blocked


def test_sigusr1_logs_every_task_and_the_state_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tally.worker"):
        asyncio.run(_dump_after_sigusr1(["transaction t-0: IN_TRANSACTION, lock held False"]))
    (dump,) = [r.getMessage() for r in caplog.records if "task dump" in r.getMessage()]
    assert "task blocked-on-lock:" in dump
    assert "_inner" in dump.split("task blocked-on-lock:", 1)[1]
    assert dump.endswith("transaction t-0: IN_TRANSACTION, lock held False")


def test_a_failing_state_line_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[str]:
        raise RuntimeError("producer gone")

    async def run() -> None:
        dump_on_signal(asyncio.get_running_loop(), broken)
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.sleep(0.05)
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)

    with caplog.at_level(logging.WARNING, logger="tally.worker"):
        asyncio.run(run())
    assert any(r.getMessage() == "task dump failed" for r in caplog.records)


def test_without_a_running_loop_there_is_nothing_to_dump() -> None:
    with pytest.raises(RuntimeError):
        task_dump()


def test_a_dump_lists_the_tasks_of_a_loop_another_thread_runs() -> None:
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    started = threading.Event()
    parked = asyncio.run_coroutine_threadsafe(_park_in_other_loop(started), other)
    assert started.wait(timeout=5)
    try:

        async def dump() -> str:
            return task_dump(other_loops=lambda: {"consumer thread": other, "gone": None})

        text = asyncio.run(dump())
    finally:
        parked.cancel()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.01), other).result(timeout=5)  # let it end
        other.call_soon_threadsafe(other.stop)
        thread.join(timeout=5)
        other.close()
    section = text.split("loop consumer thread (running True): ", 1)[1]
    assert "_park_in_other_loop" in section
    assert "loop gone: none" in text


async def _park_in_other_loop(started: threading.Event) -> None:
    asyncio.current_task().set_name("parked")  # type: ignore[union-attr]
    started.set()
    await asyncio.Event().wait()
