"""The gateway's health, probed in the background and served from the last probe.

`/healthz` is answered from `HealthMonitor.current()`: a load balancer polling it costs no
Kafka metadata request and no Redis round trip per call. The probe runs every
`health_interval_s`; a result older than `health_stale_s` is reported as stale (503), so a
stuck probe cannot keep a gateway looking healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from base.settings import GatewaySettings
from connectors.gateway.backends import Bus, Reads
from connectors.gateway.models import Health

log = logging.getLogger("tally.gateway.health")
OK = "ok"


class HealthMonitor:
    def __init__(self, settings: GatewaySettings, bus: Bus, reads: Reads) -> None:
        self._settings = settings
        self._bus = bus
        self._reads = reads
        self._last = Health(kafka="unknown: not probed yet", redis="unknown: not probed yet")
        self._last_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Probe once (so the first /healthz has an answer), then keep probing."""
        await self.probe()
        self._task = asyncio.create_task(self._run(), name="health-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def current(self) -> Health:
        """The last probe's result; stale past `health_stale_s`."""
        age_s = time.monotonic() - self._last_at
        if age_s > self._settings.health_stale_s:
            stale = f"unknown: last probed {age_s:.0f} s ago"
            return Health(kafka=stale, redis=stale)
        return self._last

    async def probe(self) -> Health:
        kafka, redis_state = await asyncio.gather(_probe(self._bus.ping), _probe(self._reads.ping))
        self._last = Health(kafka=kafka, redis=redis_state)
        self._last_at = time.monotonic()
        return self._last

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.health_interval_s)
            try:
                await self.probe()
            except Exception:  # a probe never raises (see _probe); keep the loop alive anyway
                log.exception("health probe failed")


def healthy(health: Health) -> bool:
    return health.kafka == OK and health.redis == OK


async def _probe(ping: Callable[[], Awaitable[None]]) -> str:
    try:
        await ping()
    except Exception as error:  # any failure means unreachable; the name says which
        return f"unreachable: {type(error).__name__}: {error}"[:200]
    return OK
