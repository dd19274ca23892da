"""The faults of a run, one method per kind, and `heal()`, which ends every one still in
effect: workers resumed, brokers, Redis and the gateway running again, relays passing.

Kinds (devtools/faults/plan.py): a worker killed (-9) or stalled (SIGSTOP); a broker
stopped (SIGTERM) or killed (-9), on a cluster one node of it; Redis stopped, killed or
flushed (then resynced, as an operator would); the pusher or the gateway killed; the
client re-sending a step; the network between the workers and the brokers delayed,
stalled or cut (devtools/faults/relay.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis

from base.settings import Settings
from devtools.faults import stack
from devtools.faults.gateway import Gateway
from devtools.faults.plan import Fault
from devtools.faults.procs import SESSION_TIMEOUT_S, Supervisor
from devtools.faults.relay import Relay
from ops.resync import resync
from ops.stack.redis import Redis
from ops.stack.service import Service

log = logging.getLogger("tally.faults")
REDIS_SERVING_WAIT_S = 30.0  # a killed Redis is started again within a fault's seconds


def flush_when_serving(
    client: redis.Redis, wait_s: float = REDIS_SERVING_WAIT_S, poll_s: float = 0.1
) -> None:
    """FLUSHALL once Redis serves, as an operator would: a Redis just started again answers
    LOADING while it reads its data back (fault seed 34: a flush three steps after a kill)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            client.flushall()
            return
        except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(poll_s)


@dataclass
class Injector:
    """Applies a run's faults to its processes, its stack and its network."""

    settings: Settings  # the run's (its topics on the fault stack)
    supervisor: Supervisor
    gateway: Gateway
    relays: list[Relay]
    redis_client: redis.Redis
    resend: Callable[[int], Awaitable[None]]  # client_resend: send a step's records again
    background: list[asyncio.Task[None]] = field(default_factory=list)
    down: dict[str, Service] = field(default_factory=dict)  # killed, to start at heal

    async def inject(self, fault: Fault) -> None:
        log.info("step %d: %s", fault.step, fault.as_dict())
        action = getattr(self, f"_{fault.kind}")
        await action(fault)

    async def heal(self) -> None:
        """End every fault still in effect; returns once everything runs again."""
        await asyncio.gather(*self.background, return_exceptions=True)
        self.background.clear()
        for relay in self.relays:
            await asyncio.to_thread(relay.normal)
        await self.heal_stack()
        if not self.gateway.alive():
            await asyncio.to_thread(self.gateway.start)
        for index in list(self.supervisor.stopped):
            await asyncio.to_thread(self.supervisor.sigcont, index)
        await asyncio.to_thread(self.supervisor.check)

    def cancel(self) -> None:
        for task in self.background:
            task.cancel()

    async def heal_stack(self) -> None:
        """Start whatever of the stack a fault left dead (the next seed needs it)."""
        for service in list(self.down.values()):
            await self._start(service)

    # --- processes ------------------------------------------------------------------------

    async def _kill9(self, fault: Fault) -> None:
        await asyncio.to_thread(self.supervisor.kill_worker, fault.worker)
        await asyncio.sleep(fault.seconds)
        await asyncio.to_thread(self.supervisor.restart_worker, fault.worker)

    async def _sigstop(self, fault: Fault) -> None:
        if fault.worker in self.supervisor.stopped:
            return
        await asyncio.to_thread(self.supervisor.sigstop, fault.worker)
        self._later(SESSION_TIMEOUT_S + fault.seconds, self._sigcont(fault.worker))

    async def _sigcont(self, worker: int) -> None:
        await asyncio.to_thread(self.supervisor.sigcont, worker)

    async def _pusher_kill(self, fault: Fault) -> None:
        await asyncio.to_thread(self.supervisor.kill_pusher)
        await asyncio.sleep(fault.seconds)
        await asyncio.to_thread(self.supervisor.start_pusher)

    async def _gateway_kill(self, fault: Fault) -> None:
        """kill -9 while the step's requests are in flight; back after `seconds`."""

        async def kill_then_start() -> None:
            await asyncio.to_thread(self.gateway.kill)
            await asyncio.sleep(fault.seconds)
            await asyncio.to_thread(self.gateway.start)

        self._later(fault.delay_s, kill_then_start())

    async def _client_resend(self, fault: Fault) -> None:
        await self.resend(fault.resend_step)

    # --- the stack ------------------------------------------------------------------------

    async def _kafka_restart(self, fault: Fault) -> None:
        node = stack.node(self.settings, fault.worker)
        await asyncio.to_thread(stack.restart, self.settings, node, fault.seconds, log.info)

    async def _kafka_kill(self, fault: Fault) -> None:
        """kill -9 a broker; it stays dead for `seconds` while the run goes on."""
        await self._kill_for(stack.node(self.settings, fault.worker), fault.seconds)

    async def _redis_restart(self, fault: Fault) -> None:
        redis_service = Redis(self.settings)
        await asyncio.to_thread(
            stack.restart, self.settings, redis_service, fault.seconds, log.info
        )

    async def _redis_kill(self, fault: Fault) -> None:
        await self._kill_for(Redis(self.settings), fault.seconds)

    async def _redis_flush(self, fault: Fault) -> None:
        await asyncio.to_thread(flush_when_serving, self.redis_client)
        report = await resync(self.settings)  # what an operator does after losing Redis
        if report.unsettled:  # an operator runs it again, as the CLI tells them to
            log.warning("resync: partitions %s unsettled; running it again", report.unsettled)
            await resync(self.settings)

    async def _kill_for(self, service: Service, down_s: float) -> None:
        await asyncio.to_thread(stack.kill, self.settings, service)
        self.down[service.name] = service

        async def start_later() -> None:
            await asyncio.sleep(down_s)
            await self._start(service)

        self.background.append(asyncio.create_task(start_later()))

    async def _start(self, service: Service) -> None:
        if self.down.pop(service.name, None) is not None:
            await asyncio.to_thread(stack.start, self.settings, service, log.info)

    # --- the network between the workers and the brokers ----------------------------------

    async def _net_delay(self, fault: Fault) -> None:
        await self._for_a_while(fault.seconds, lambda r: r.delay(fault.delay_s))

    async def _net_stall(self, fault: Fault) -> None:
        await self._for_a_while(fault.seconds, lambda r: r.stall())

    async def _net_drop(self, fault: Fault) -> None:
        for relay in self.relays:
            await asyncio.to_thread(relay.drop)

    async def _for_a_while(self, seconds: float, change: Callable[[Relay], None]) -> None:
        for relay in self.relays:
            await asyncio.to_thread(change, relay)

        async def back_to_normal() -> None:
            for relay in self.relays:
                await asyncio.to_thread(relay.normal)

        self._later(seconds, back_to_normal())

    def _later(self, seconds: float, then: Awaitable[None]) -> None:
        async def after() -> None:
            await asyncio.sleep(seconds)
            await then

        self.background.append(asyncio.create_task(after()))
