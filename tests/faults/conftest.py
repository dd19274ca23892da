"""The fault stack: Kafka and Redis of this session's own (own home, free ports), because a
fault run restarts them and flushes Redis; the shared stack other tests use is never touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from base.settings import Settings, get_settings
from devtools.faults.run import fault_stack_settings
from ops.stack import down, ensure_up
from tests.support.isolation import free_port


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("fault-stack")
    settings = fault_stack_settings(
        get_settings(),
        home,
        kafka_port=free_port(),
        controller_port=free_port(),
        redis_port=free_port(),
    )
    ensure_up(settings)
    try:
        yield settings
    finally:
        down(settings, wipe=True)
