"""The batch inbox: a taker gets what is waiting at once, bounded, oldest first; nothing of
an older consumer generation; a full inbox holds the fetch back; a cleared one is empty."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from processors.faust_repairs.batch_delivery import BatchInbox


@dataclass
class FakeMessage:
    offset: int
    serialized_value_size: int = 10
    generation_id: int = 1


class FakeFlowControl:
    async def acquire(self) -> None:
        return None


@dataclass
class FakeApp:
    consumer_generation_id: int = 1
    flow_control: Any = None

    def __post_init__(self) -> None:
        self.flow_control = FakeFlowControl()


def offsets(records: list[Any]) -> list[int]:
    return [record.message.offset for record in records]


def inbox(records_max: int = 1_000) -> tuple[BatchInbox, FakeApp]:
    app = FakeApp()
    return BatchInbox(app, ["t"], records_max), app


def test_a_take_returns_every_waiting_record_in_order_without_waiting() -> None:
    async def scenario() -> list[int]:
        box, _ = inbox()
        await box.put([FakeMessage(0), FakeMessage(1)])
        await box.put([FakeMessage(2)])
        return offsets(await asyncio.wait_for(box.take(100, 10_000), timeout=0.1))

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_a_take_is_bounded_by_count_and_the_rest_waits_for_the_next() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        box, _ = inbox()
        await box.put([FakeMessage(i) for i in range(5)])
        first = offsets(await box.take(3, 10_000))
        return first, offsets(await box.take(3, 10_000))

    assert asyncio.run(scenario()) == ([0, 1, 2], [3, 4])


def test_a_take_stops_at_the_chunk_that_reaches_the_byte_bound() -> None:
    async def scenario() -> list[int]:
        box, _ = inbox()
        await box.put([FakeMessage(0, 600)])
        await box.put([FakeMessage(1, 600)])
        return offsets(await box.take(100, 500))

    assert asyncio.run(scenario()) == [0]


def test_a_take_waits_for_the_first_record() -> None:
    async def scenario() -> tuple[bool, list[int]]:
        box, _ = inbox()
        taking = asyncio.ensure_future(box.take(10, 10_000))
        await asyncio.sleep(0.01)
        waited = not taking.done()
        await box.put([FakeMessage(7)])
        return waited, offsets(await asyncio.wait_for(taking, timeout=0.1))

    assert asyncio.run(scenario()) == (True, [7])


def test_records_of_an_older_generation_are_dropped_when_taken() -> None:
    async def scenario() -> list[int]:
        box, app = inbox()
        await box.put([FakeMessage(0, generation_id=1), FakeMessage(1, generation_id=2)])
        app.consumer_generation_id = 2
        return offsets(await box.take(10, 10_000))

    assert asyncio.run(scenario()) == [1]


def test_a_full_inbox_holds_the_fetch_until_records_are_taken() -> None:
    async def scenario() -> tuple[bool, bool]:
        box, _ = inbox(records_max=2)
        await box.put([FakeMessage(0), FakeMessage(1)])
        putting = asyncio.ensure_future(box.put([FakeMessage(2)]))
        await asyncio.sleep(0.01)
        held = not putting.done()
        await box.take(10, 10_000)
        await asyncio.wait_for(putting, timeout=0.1)
        return held, len(box) == 1

    assert asyncio.run(scenario()) == (True, True)


def test_clear_drops_every_waiting_record() -> None:
    async def scenario() -> bool:
        box, _ = inbox()
        await box.put([FakeMessage(0)])
        box.clear()
        taking = asyncio.ensure_future(box.take(10, 10_000))
        await asyncio.sleep(0.01)
        empty = not taking.done() and len(box) == 0
        taking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await taking
        return empty

    assert asyncio.run(scenario())


def test_a_take_tells_when_its_oldest_record_arrived() -> None:
    arrivals = iter([10.0, 12.5])

    async def scenario() -> tuple[float, float, float]:
        box = BatchInbox(FakeApp(), ["t"], 1_000, clock=lambda: next(arrivals))
        await box.put([FakeMessage(0), FakeMessage(1)])  # arrives at 10.0
        await box.put([FakeMessage(2)])  # at 12.5
        await box.take(1, 10_000)
        first = box.oldest_taken_at
        await box.take(1, 10_000)  # the rest of the first chunk
        second = box.oldest_taken_at
        await box.take(100, 10_000)
        return first, second, box.oldest_taken_at

    assert asyncio.run(scenario()) == (10.0, 10.0, 12.5)
