"""Session fixtures shared by every test folder.

`live_stack` brings up the local stack (Kafka + Redis) for integration tests, using the
settings from the environment (so CI and developers can move ports and the stack home,
e.g. TALLY_KAFKA__PORT=19092), and at the end of the session stops only what it started:
a stack that was already running (`make up`) is left running.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from base.settings import Settings, get_settings
from base.topics import ensure_topics
from ops.child_worker import ChildOrderProcessor
from ops.stack import ensure_up, stop_started
from tests.support.isolation import isolated_settings
from tests.support.worker_process import WorkerProcess

# a child process the fixtures serve (both answer wait_metrics_up and stop)
P = TypeVar("P", WorkerProcess, ChildOrderProcessor)

logger = logging.getLogger("tally.tests.stack")


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def live_stack(stack_settings: Settings) -> Iterator[Settings]:
    started = ensure_up(stack_settings, echo=logger.info)
    try:
        yield stack_settings
    finally:
        stop_started(stack_settings, started, echo=logger.info)


@pytest.fixture(autouse=True)
def _sockets_left_are_reported_by_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After an integration test, collect garbage: a socket it left open (an unclosed
    transport's ResourceWarning, an error here) is then reported by that test, not by
    whichever later test the collector happens to run in."""
    yield
    if request.node.get_closest_marker("integration") is not None:
        gc.collect()


@pytest.fixture
def isolated(live_stack: Settings, tmp_path: Path) -> Settings:
    """Settings with topics (created, shaped as the worker wants), app id, data dir and ports
    of this test's own."""
    settings = isolated_settings(live_stack, tmp_path)
    asyncio.run(ensure_topics(settings))
    return settings


@pytest.fixture
def worker(isolated: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real worker process on the test's own topics; stopped (and its log shown) at the end."""
    yield from _serving(WorkerProcess(isolated, tmp_path / "worker.log").start())


@pytest.fixture
def order_processor(
    isolated: Settings, worker: WorkerProcess, tmp_path: Path
) -> Iterator[ChildOrderProcessor]:
    """A real order processor beside the test's worker, on the same topics."""
    yield from _serving(ChildOrderProcessor(isolated, tmp_path / "orders.log").start())


def _serving(process: P) -> Iterator[P]:
    """A started child process, handed out once its metrics answer; stopped at the end."""
    try:
        process.wait_metrics_up()
        yield process
    finally:
        process.stop()
