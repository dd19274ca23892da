"""The fault stacks: Kafka and Redis of this session's own (own home, free ports), because a
fault run kills and restarts them and flushes Redis; the shared stack other tests use is
never touched. `fault_stack` has one broker, `fault_cluster` three."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from base.settings import Settings, get_settings
from devtools.faults import stack
from ops.stack import down
from ops.stack.ports import free_port, free_ports

logger = logging.getLogger("tally.tests.faults")


def _fault_stack(home_factory: pytest.TempPathFactory, brokers: int) -> Iterator[Settings]:
    home = home_factory.mktemp(f"fault-stack-{brokers}")
    first = free_ports(
        lambda port: [
            port + offset + step
            for offset in (0, 1, stack.LISTENER_OFFSET, stack.RELAY_OFFSET)
            for step in range(0, 2 * brokers, 2)
        ]
    )
    settings = stack.fault_stack_settings(
        get_settings(), home, first, first + 1, free_port(), brokers=brokers
    )
    stack.up(settings, logger.info)
    try:
        yield settings
    finally:
        down(settings, wipe=True)


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from _fault_stack(tmp_path_factory, brokers=1)


@pytest.fixture(scope="session")
def fault_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from _fault_stack(tmp_path_factory, brokers=3)
