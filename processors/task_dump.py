"""`kill -USR1 <worker pid>`: log where every asyncio task of the worker is waiting.

A worker that stops making progress without an error shows only what it last logged (fault
seed 49 once sat idle for three minutes after "Worker ready"). Like a JVM thread dump, the
dump names each task and the chain of coroutines it is awaiting, innermost last, followed by
whatever state lines the caller adds (the transactional producers' states).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("tally.worker")

CHAIN_DEPTH_MAX = 64  # a chain deeper than this is cut (a cycle would never end)
StateLines = Callable[[], list[str]]
OtherLoops = Callable[[], dict[str, asyncio.AbstractEventLoop | None]]


def _frame_of(awaitable: Any) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: Any) -> Any:
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(awaitable, name, None)
        if inner is not None:
            return inner
    return None


def await_chain(coro: Any) -> list[str]:
    """`file:line function` for each coroutine `coro` is awaiting, outermost first."""
    chain: list[str] = []
    frame = _frame_of(coro)
    while frame is not None and len(chain) < CHAIN_DEPTH_MAX:
        where = frame.f_code.co_filename.rsplit("site-packages/", 1)[-1]
        chain.append(f"{where}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = _awaited_by(coro)
        frame = _frame_of(coro)
    return chain


def task_lines(task: asyncio.Task[Any]) -> list[str]:
    """The task's name, its await chain, and the future it is suspended on (if any)."""
    lines = [f"task {task.get_name()}:"]
    lines += [f"    {step}" for step in await_chain(task.get_coro())]
    waiter = getattr(task, "_fut_waiter", None)  # asyncio's own record of what it awaits
    if waiter is not None:
        lines.append(f"    waiting on {waiter!r:.300}")
    return lines


def task_dump(state_lines: StateLines | None = None, other_loops: OtherLoops | None = None) -> str:
    """Every task of the running loop with its await chain, then those of `other_loops()`
    (loops other threads run), then `state_lines()`."""
    lines = ["task dump (SIGUSR1):"]
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        lines += task_lines(task)
    for name, loop in (other_loops() if other_loops is not None else {}).items():
        lines += _other_loop_lines(name, loop)
    if state_lines is not None:
        lines += state_lines()
    return "\n".join(lines)


def _other_loop_lines(name: str, loop: asyncio.AbstractEventLoop | None) -> list[str]:
    if loop is None or loop.is_closed():
        return [f"loop {name}: none"]
    # Read from this thread while the other runs: a snapshot, good enough for a diagnosis
    # (`all_tasks` retries while the other thread changes its task set).
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    lines = [f"loop {name} (running {loop.is_running()}): {len(tasks)} tasks"]
    for task in tasks:
        lines += [f"  {line}" for line in task_lines(task)]
    return lines


def log_task_dump(state_lines: StateLines | None, other_loops: OtherLoops | None) -> None:
    """Log the dump now (also what SIGUSR1 does); never raises."""
    try:
        log.warning("%s", task_dump(state_lines, other_loops))
    except Exception:  # a dump must never take the worker down
        log.exception("task dump failed")


def dump_on_signal(
    loop: asyncio.AbstractEventLoop,
    state_lines: StateLines | None = None,
    other_loops: OtherLoops | None = None,
) -> None:
    """Log a task dump each time the process receives SIGUSR1."""
    loop.add_signal_handler(signal.SIGUSR1, log_task_dump, state_lines, other_loops)
