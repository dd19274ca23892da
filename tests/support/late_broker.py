"""A broker that answers late: a relay to the real one, opened after a delay (a process
started while its broker restarts).

The relay is the fault runner's (`devtools.faults.relay`): it runs in a thread of its own
and its `stop()` closes every connection it made, so no socket outlives the test.
"""

from __future__ import annotations

import asyncio

from base.settings import Settings
from devtools.faults.relay import Relay


def via_port(settings: Settings, port: int) -> Settings:
    """`settings` with Kafka at `port` on the same host."""
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"port": port})})


async def open_relay_after(delay_s: float, listen_port: int, broker_port: int) -> Relay:
    """After `delay_s`, relay `listen_port` to the broker at `broker_port`; `stop()` it."""
    await asyncio.sleep(delay_s)
    return await asyncio.to_thread(Relay(listen_port, broker_port).start)
