"""The durable gate: a reader waits for the writes in flight, and holds new ones back."""

from __future__ import annotations

import asyncio

from processors.durable_gate import DurableGate


def test_a_reader_waits_until_every_write_in_flight_is_durable() -> None:
    async def scenario() -> tuple[bool, bool]:
        gate = DurableGate()
        await gate.admit_writes()
        await gate.admit_writes()

        async def read() -> None:
            async with gate:
                pass

        reading = asyncio.ensure_future(read())
        await gate.writes_durable()
        await asyncio.sleep(0.01)
        waited_for_the_second = not reading.done()
        await gate.writes_durable()
        await asyncio.wait_for(reading, timeout=0.1)
        return waited_for_the_second, reading.done()

    assert asyncio.run(scenario()) == (True, True)


def test_writes_wait_while_a_reader_holds_the_gate() -> None:
    async def scenario() -> tuple[bool, bool]:
        gate = DurableGate()
        release = asyncio.Event()

        async def read() -> None:
            async with gate:
                await release.wait()

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.01)
        writing = asyncio.ensure_future(gate.admit_writes())
        await asyncio.sleep(0.01)
        held = not writing.done()
        release.set()
        await asyncio.wait_for(writing, timeout=0.1)
        await reading
        return held, writing.done()

    assert asyncio.run(scenario()) == (True, True)


def test_a_cancelled_reader_lets_writes_through() -> None:
    async def scenario() -> bool:
        gate = DurableGate()
        await gate.admit_writes()

        async def read() -> None:
            async with gate:
                pass

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.01)
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await asyncio.wait_for(gate.admit_writes(), timeout=0.1)
        return True

    assert asyncio.run(scenario())
