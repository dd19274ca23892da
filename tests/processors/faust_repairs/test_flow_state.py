"""flow_state: the consumer's flow flag and partition sets, as a task dump shows them."""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import TopicPartition as AioTP
from faust.transport.consumer import Consumer
from faust.types import TP
from mode.threads import ServiceThread
from mode.utils.locks import Event

from processors.faust_repairs.flow_state import (
    consumer_flow_lines,
    consumer_thread_loop,
    fetcher_lines,
)


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


def _kafka_consumer_with(positions: dict[TP, int | None]) -> Any:
    """A Faust consumer whose thread holds an aiokafka consumer: aiokafka's own subscription
    state (pure, no broker), a fetcher with one fetch in flight to node 1."""
    subscription = SubscriptionState()
    subscription.assign_from_user({AioTP(tp.topic, tp.partition) for tp in positions})
    assignment = subscription.subscription.assignment
    for tp, position in positions.items():
        if position is not None:
            assignment.state_value(AioTP(tp.topic, tp.partition)).seek(position)
    fetcher = SimpleNamespace(_in_flight={1}, _pending_tasks={object()}, _records={})
    kafka = SimpleNamespace(_subscription=subscription, _fetcher=fetcher)
    return SimpleNamespace(_thread=SimpleNamespace(_consumer=kafka, thread_loop=None))


def test_the_fetcher_lines_give_each_partitions_position_and_the_fetch_in_flight() -> None:
    async def lines_of() -> list[str]:  # aiokafka's subscription state wants a running loop
        return fetcher_lines(_kafka_consumer_with({TP("t.events", 0): 7, TP("t.events", 1): None}))

    lines = asyncio.run(lines_of())
    assert lines[0] == "fetcher in flight to nodes [1], 1 pending tasks, records for (none)"
    assert lines[1].startswith("  t.events[0]: position 7, awaiting reset False, paused False")
    assert lines[2].startswith("  t.events[1]: position -, awaiting reset ")  # none sought


def test_without_a_consumer_thread_the_fetcher_lines_say_so() -> None:
    assert fetcher_lines(SimpleNamespace()) == ["fetcher: none"]
    assert consumer_thread_loop(SimpleNamespace()) is None


def test_the_fetcher_attributes_read_are_aiokafkas() -> None:
    # an aiokafka upgrade renaming one would silently blank the dump's fetcher lines
    source = inspect.getsource(Fetcher.__init__)
    for name in ("_in_flight", "_pending_tasks", "_records"):
        assert f"self.{name} =" in source, name
    assert "self._fetcher =" in inspect.getsource(AIOKafkaConsumer.__init__)
    assert "thread_loop" in inspect.signature(ServiceThread.__init__).parameters
