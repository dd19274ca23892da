"""processors.faust_process.use_event_loop: the loop every later loop of the process is, in
any thread (Faust's consumer thread makes its own)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvloop

from processors.faust_process import use_event_loop


@pytest.fixture(autouse=True)
def _policy_restored() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


def _loop_type_in_a_new_thread() -> type:
    made: list[type] = []

    def make() -> None:
        loop = asyncio.new_event_loop()
        made.append(type(loop))
        loop.close()

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    return made[0]


def test_uvloop_makes_every_later_loop_a_uvloop_one_in_any_thread() -> None:
    use_event_loop("uvloop")
    assert _loop_type_in_a_new_thread() is uvloop.Loop
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_puts_the_standard_loop_back_after_uvloop() -> None:
    use_event_loop("uvloop")
    use_event_loop("asyncio")
    loop_type = _loop_type_in_a_new_thread()
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)
