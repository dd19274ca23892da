"""flow_state: the consumer's flow flag and partition sets, as a task dump shows them."""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP
from mode.utils.locks import Event

from processors.faust_repairs.flow_state import consumer_flow_lines


class _Consumer:
    """The attributes of faust's Consumer the dump reads (pure unit test; see the next)."""

    def __init__(self, assigned: set[TP], paused: set[TP]) -> None:
        self.flow_active = False
        self.can_resume_flow = Event()
        self._assigned = assigned
        self._active_partitions = assigned - paused
        self._paused_partitions = paused
        self._buffered_partitions: set[TP] = set()

    def assignment(self) -> set[TP]:
        return self._assigned


def test_the_lines_name_the_flow_and_each_partition_set() -> None:
    events = [TP("t.events", 1), TP("t.events", 0)]
    lines = consumer_flow_lines(_Consumer(set(events), {events[0]}))
    assert lines == [
        "consumer flow active False, can resume False",
        "consumer assigned: t.events[0], t.events[1]",
        "consumer active: t.events[0]",
        "consumer paused: t.events[1]",
        "consumer buffered: (none)",
    ]


def test_a_consumer_that_cannot_say_its_assignment_still_gives_the_rest() -> None:
    class TornDown(_Consumer):
        def assignment(self) -> set[TP]:
            raise RuntimeError("consumer thread stopped")

    lines = consumer_flow_lines(TornDown(set(), set()))
    assert "consumer assignment unavailable: RuntimeError('consumer thread stopped')" in lines
    assert "consumer assigned: (none)" in lines


def test_the_attributes_read_are_faust_consumer_attributes() -> None:
    # a faust-streaming upgrade renaming one would silently blank the dump's lines
    declared: dict[str, Any] = {}
    for klass in reversed(Consumer.__mro__):
        declared |= getattr(klass, "__annotations__", {})
    for name in (
        "flow_active",
        "can_resume_flow",
        "_active_partitions",
        "_paused_partitions",
        "_buffered_partitions",
    ):
        assert name in declared, name
    assert callable(Consumer.assignment)
