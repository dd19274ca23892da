"""The reply path of holds: decisions on `tally.decisions` matched to the requests waiting.

Each gateway process runs one plain consumer (no consumer group) over every partition of
`tally.decisions`, starting at the log end when the process starts, and hands each decision
to the futures waiting for it. The follower is supervised: if it fails it is restarted (with
backoff, counted in `tally_gateway_decision_follower_restarts_total`) from the positions it
had reached, so no decision produced meanwhile is missed; health reports it while down.

A waiter is registered BEFORE its command is produced, so a decision can never arrive
unseen. A waiter matches a decision by (sku, channel, request_id) and, for a reserve, also
by (sku, channel, hold_id): the ledger answers a reserve that repeats a hold_id with that
hold's first decision, which carries the first request's request_id. The channel is the
asking one (None: an admin's), as ids are each channel's own: another channel's decision
on the same ids never answers a waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import TypeAdapter, ValidationError

from base.kafka_client import client_options, start_or_close
from base.settings import Settings
from connectors.metrics import GATEWAY_FOLLOWER_RESTARTS
from ledger.commands import Decision, HoldCommand, Reserve

log = logging.getLogger("tally.gateway.replies")

POLL_TIMEOUT_MS = 500
POLL_RECORDS_MAX = 1_000
RESTART_BACKOFF_S = (0.2, 10.0)  # the first retry's wait, doubled up to the second
_DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)

WaitKey = tuple[str, str, str | None, str]  # ("request" | "hold", sku, channel, id)


class TooManyWaiters(Exception):
    """More hold requests are waiting than settings.gateway.hold_waiters_max."""


def wait_keys(command: HoldCommand) -> tuple[WaitKey, ...]:
    by_request: WaitKey = ("request", command.sku, command.channel, command.request_id)
    if isinstance(command, Reserve):
        return by_request, ("hold", command.sku, command.channel, command.hold_id)
    return (by_request,)


def decision_keys(decision: Decision) -> tuple[WaitKey, ...]:
    by_request: WaitKey = ("request", decision.sku, decision.channel, decision.request_id)
    if decision.command == "reserve":
        return by_request, ("hold", decision.sku, decision.channel, decision.hold_id)
    return (by_request,)


class Waiters:
    """Futures waiting for decisions, bounded by `waiters_max`. Used from one event loop."""

    def __init__(self, waiters_max: int) -> None:
        self._waiters_max = waiters_max
        self._count = 0
        self._by_key: dict[WaitKey, list[asyncio.Future[Decision]]] = {}

    def __len__(self) -> int:
        return self._count

    @contextlib.contextmanager
    def register(self, command: HoldCommand) -> Iterator[asyncio.Future[Decision]]:
        """A future for `command`'s decision, registered for the duration of the block."""
        if self._count >= self._waiters_max:
            raise TooManyWaiters(f"{self._count} hold requests already waiting")
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        keys = wait_keys(command)
        for key in keys:
            self._by_key.setdefault(key, []).append(future)
        self._count += 1
        try:
            yield future
        finally:
            self._count -= 1
            for key in keys:
                futures = self._by_key.get(key, [])
                with contextlib.suppress(ValueError):
                    futures.remove(future)
                if not futures:
                    self._by_key.pop(key, None)

    def dispatch(self, decision: Decision) -> int:
        """Resolve every future waiting for `decision`; returns how many."""
        resolved = 0
        for key in decision_keys(decision):
            for future in self._by_key.get(key, ()):
                if not future.done():
                    future.set_result(decision)
                    resolved += 1
        return resolved


class DecisionFollower:
    """The consumer of `tally.decisions` for one gateway process, restarted when it fails."""

    def __init__(self, settings: Settings, waiters: Waiters) -> None:
        self._settings = settings
        self._waiters = waiters
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._positions: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self.down_since: float | None = None  # monotonic time it failed; None while following
        self.restarts = 0

    @property
    def running(self) -> bool:
        """Following now (not failed, not waiting to restart)."""
        return self._task is not None and not self._task.done() and self.down_since is None

    async def start(self, partitions: set[int]) -> None:
        """Assign every partition and pin the start at the log end, then follow it."""
        topic = self._settings.topics.decisions
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer = await self._open(assigned, resume=False)
        self._task = asyncio.create_task(self._supervise(assigned), name="decision-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        self._task = None

    async def _open(self, assigned: list[TopicPartition], *, resume: bool) -> AIOKafkaConsumer:
        """A started consumer at the log end (first start) or where the last one stopped."""
        consumer = AIOKafkaConsumer(
            **client_options(self._settings.kafka),
            group_id=None,
            enable_auto_commit=False,
        )
        await start_or_close(consumer)
        try:
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:  # resolve the positions now: decisions after this are seen
                end = await consumer.position(tp)
                position = self._positions.get(tp, end) if resume else end
                consumer.seek(tp, min(position, end))
                self._positions[tp] = min(position, end)
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _supervise(self, assigned: list[TopicPartition]) -> None:
        backoff_s, backoff_max_s = RESTART_BACKOFF_S
        while True:
            try:
                if self._consumer is None:
                    self._consumer = await self._open(assigned, resume=True)
                    self.down_since = None
                    backoff_s = RESTART_BACKOFF_S[0]
                await self._follow(self._consumer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("decision follower failed; restarting in %.1f s", backoff_s)
                if self.down_since is None:
                    self.down_since = time.monotonic()
                await self._close()
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, backoff_max_s)
                self.restarts += 1
                GATEWAY_FOLLOWER_RESTARTS.inc()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(
                timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS_MAX
            )
            for tp, records in batches.items():
                for record in records:
                    self._dispatch(record.value)
                if records:
                    self._positions[tp] = records[-1].offset + 1

    def _dispatch(self, raw: bytes | None) -> None:
        try:
            decision = _DECISION.validate_json(raw or b"")
        except ValidationError:
            log.error("undecodable decision record skipped")
            return
        self._waiters.dispatch(decision)
