"""On a wait that times out, show where the workers were waiting.

A worker that sits idle after "Worker ready" shows nothing in its log (fault seed 49; once,
tests/processors/test_two_workers.py). The task dump (processors/task_dump.py: every task's
await chain, the transactional producers and the consumer's flow) is what says why, so a
test asks for it before failing and puts each worker's log tail in the failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

DUMP_WAIT_S = 2.0  # for each worker to log its dump (SIGUSR1 is handled on its loop)
TAIL_LINES = 120


class DumpsTasks(Protocol):
    """A worker that logs its task dump on request (ops.child_worker.ChildWorker)."""

    log_path: Path

    def dump_tasks(self) -> None: ...

    def log_tail(self, lines: int = 40) -> str: ...


@contextmanager
def dumps_on_timeout(*workers: DumpsTasks) -> Iterator[None]:
    """Re-raise an AssertionError in the block with each worker's task dump and log tail."""
    try:
        yield
    except AssertionError as failure:
        for worker in workers:
            worker.dump_tasks()
        time.sleep(DUMP_WAIT_S)
        tails = "\n".join(
            f"--- {worker.log_path} (last {TAIL_LINES} lines)\n{worker.log_tail(TAIL_LINES)}"
            for worker in workers
        )
        raise AssertionError(f"{failure}\n{tails}") from failure
