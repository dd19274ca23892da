"""Session fixtures shared by every test folder.

`live_stack` brings up the local stack (Kafka + Redis) for integration tests, using the
settings from the environment (so CI and developers can move ports and the stack home,
e.g. TALLY_KAFKA__PORT=19092), and at the end of the session stops only what it started:
a stack that was already running (`make up`) is left running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ops.settings import Settings, get_settings
from ops.stack import ensure_up, stop_started

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
