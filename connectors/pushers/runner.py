"""Follow `tally:changes:{channel}` with a consumer group and push coalesced figures.

Per batch: read up to `read_entries_max` entries (XREADGROUP), keep the newest figure per
SKU, drop figures not newer than the one the external side already confirmed, push the
rest, then in one MULTI: record what was confirmed, dead-letter what failed, XACK the
entries that were settled. Nothing is acked before the external side answered, so a crash
re-delivers the batch (at-least-once); on start-up the pusher first re-reads its own
pending entries, then claims entries other consumers left pending (XAUTOCLAIM).

A figure the sink defers (a webhook receiver that is down) is parked with its entries left
pending and retried on the sink's schedule while the channel goes on (parking.py). A
change trimmed from the capped stream before it was sent triggers a resync of the channel's
figures from `tally:ats:{channel}`. An endpoint that is gone (410) disables the pusher
until `tally push enable` deletes `tally:pusher-disabled:{pusher}:{channel}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from base.redis_keys import changes_key
from base.settings import PusherSettings
from connectors.metrics import (
    PUSHER_DISABLED,
    PUSHER_ERRORS,
    PUSHER_PARKED,
    PUSHER_PUSHES,
    PUSHER_RESYNCS,
    PUSHER_TRIMS,
)
from connectors.pushers import keys
from connectors.pushers.bookkeeping import commit, load_pushed
from connectors.pushers.changes import (
    Change,
    DeadLettered,
    Deferred,
    Outcome,
    PushedFigure,
    coalesce,
    newer_than_pushed,
    parse_entry,
)
from connectors.pushers.keys import PusherKind
from connectors.pushers.parking import ParkingLot
from connectors.pushers.redis_io import Entry, channel_figures, flat, text, unread_trimmed
from connectors.pushers.stops import EndpointGone

logger = logging.getLogger("tally.pusher")

# Backoff while Redis is unreachable: doubling from REDIS_RETRY_S, capped.
REDIS_RETRY_S = 0.25
REDIS_RETRY_S_MAX = 5.0


class Sink(Protocol):
    name: PusherKind

    @property
    def batch_max(self) -> int: ...

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]: ...

    def retry_delay_s(self, failures: int, hint_s: float | None) -> float | None:
        """Wait before retrying a figure deferred `failures` times; None: dead-letter it."""
        ...

    async def aclose(self) -> None: ...


class Pusher:
    def __init__(
        self,
        client: aioredis.Redis,
        channel: str,
        sink: Sink,
        settings: PusherSettings,
        *,
        consumer: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._channel = channel
        self._sink = sink
        self._settings = settings
        self._consumer = consumer or settings.consumer
        self._clock = clock
        self._stream = changes_key(channel)
        self._group = keys.group_name(sink.name)
        self._pushed_key = keys.pushed_key(sink.name, channel)
        self._parking = ParkingLot()
        self._resync_wanted = False

    async def run(self, stop: asyncio.Event) -> None:
        """Resume (own pending, then stale ones of others), then follow until `stop` is set.

        A lost Redis connection (a restart, a failover) is waited out with bounded backoff,
        then the pusher resumes from its pending entries: nothing acked is lost. A stream or
        group that vanished under a blocked read (FLUSHALL, a deleted key) is recreated. An
        endpoint that is gone disables the pusher until an operator re-enables it.
        """
        failures = 0
        while not stop.is_set():
            try:
                await self._follow(stop)
            except EndpointGone as gone:
                await self.disable(gone.reason)
            except ResponseError as error:
                if not _stream_vanished(error):
                    raise
                logger.warning("%s or its group vanished (%s); recreating", self._stream, error)
                PUSHER_ERRORS.labels(self._sink.name, "redis").inc()
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                failures += 1
                wait_s = min(REDIS_RETRY_S_MAX, REDIS_RETRY_S * 2**failures)
                logger.warning("redis unavailable (%s); retrying in %.1fs", error, wait_s)
                PUSHER_ERRORS.labels(self._sink.name, "redis").inc()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait_s)
            else:
                return

    async def _follow(self, stop: asyncio.Event) -> None:
        await self._wait_while_disabled(stop)
        if stop.is_set():
            return
        await self.resume()
        while not stop.is_set():
            await self._housekeep()
            entries = await self._read_new(block_ms=self._block_ms())
            if entries:
                await self.handle(entries)

    async def resume(self) -> int:
        """Push what was read but never acked (after a crash). Returns entries handled."""
        await self.ensure_group()
        handled = 0
        cursor = "0-0"
        while entries := await self._read(cursor, block_ms=None):
            await self.handle(entries)
            handled += len(entries)
            cursor = entries[-1][0]
        cursor = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                self._stream,
                self._group,
                self._consumer,
                min_idle_time=self._settings.claim_idle_ms,
                start_id=cursor,
                count=self._settings.read_entries_max,
            )
            cursor, claimed = text(reply[0]), flat(reply[1])
            deleted = [text(entry_id) for entry_id in (reply[2] if len(reply) > 2 else [])]
            if deleted:  # trimmed from the stream while pending: resync what they carried
                self._trimmed("pending", len(deleted))
                await self._redis.xack(self._stream, self._group, *deleted)
            if claimed:
                await self.handle(claimed)
                handled += len(claimed)
            if cursor == "0-0":
                break
        if handled:
            logger.info("resumed %d pending entries on %s", handled, self._stream)
        return handled

    async def drain(self) -> int:
        """Resume, then handle new entries and parked retries until none are left (tests,
        one-shot runs): with parked figures it waits for their retries."""
        handled = await self.resume()
        while True:
            read = await self.step()
            handled += read
            if read:
                continue
            next_due_s = self._parking.next_due_s()
            if next_due_s is None:
                return handled
            await asyncio.sleep(max(0.0, next_due_s - self._clock()))

    async def step(self) -> int:
        """Handle what is new now (no blocking), then the due retries; entries read."""
        entries = await self._read_new(block_ms=None)
        if entries:
            await self.handle(entries)
        await self._housekeep()
        return len(entries)

    async def ensure_group(self) -> None:
        start = "0" if self._settings.start_from == "earliest" else "$"
        try:
            await self._redis.xgroup_create(self._stream, self._group, id=start, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def handle(self, entries: Sequence[Entry]) -> list[Outcome]:
        changes: list[Change] = []
        settled: list[str] = []  # entries acked whatever the push does: unreadable ones
        ids_by_sku: dict[str, list[str]] = {}
        for entry_id, fields in entries:
            change = parse_entry(entry_id, fields)
            if change is None:
                settled.append(entry_id)
            else:
                changes.append(change)
                ids_by_sku.setdefault(change.sku, []).append(entry_id)
        trimmed = sum(1 for _, fields in entries if not fields)
        if trimmed:
            self._trimmed("pending", trimmed)
        if len(settled) > trimmed:
            PUSHER_ERRORS.labels(self._sink.name, "malformed").inc(len(settled) - trimmed)
        rest = self._parking.absorb(changes, ids_by_sku)
        own_ids = {c.sku: ids_by_sku[c.sku] for c in rest}
        return await self._push(coalesce(rest), own_ids, {}, settled)

    async def retry_parked(self) -> list[Outcome]:
        """Retry the parked figures whose time has come."""
        due = self._parking.due(self._clock())
        for parked in due:
            self._parking.release(parked.change.sku)
        if not due:
            return []
        ids = {parked.change.sku: parked.entry_ids for parked in due}
        failures = {parked.change.sku: parked.failures for parked in due}
        return await self._push([parked.change for parked in due], ids, failures, [])

    async def resync_channel(self) -> int:
        """Push every published figure of the channel newer than the confirmed one."""
        changes = await channel_figures(self._redis, self._channel)
        PUSHER_RESYNCS.labels(self._sink.name).inc()
        logger.warning(
            "changes trimmed before they were sent: resyncing %s (%d figures from tally:ats)",
            self._channel,
            len(changes),
        )
        step = self._settings.read_entries_max
        for start in range(0, len(changes), step):
            rest = self._parking.absorb(changes[start : start + step], {})
            await self._push(rest, {}, {}, [])
        return len(changes)

    async def disable(self, reason: str) -> None:
        """Stop sending to the endpoint: mark it in Redis, count it, say how to re-enable."""
        await self._redis.set(keys.disabled_key(self._sink.name, self._channel), reason)
        PUSHER_DISABLED.labels(self._sink.name).set(1)
        self._parking = ParkingLot()  # their entries stay pending; re-read after re-enabling
        PUSHER_PARKED.labels(self._sink.name).set(0)
        logger.error(
            "%s pusher for %s stopped sending: %s. Fix or replace the endpoint, then run "
            "`tally push enable --channel %s --pusher %s`; pending figures are sent then.",
            self._sink.name,
            self._channel,
            reason,
            self._channel,
            self._sink.name,
        )

    async def _wait_while_disabled(self, stop: asyncio.Event) -> None:
        key = keys.disabled_key(self._sink.name, self._channel)
        waiting = False
        while not stop.is_set() and (reason := await self._redis.get(key)) is not None:
            if not waiting:
                logger.error(
                    "%s pusher for %s is disabled: %s", self._sink.name, self._channel, text(reason)
                )
                waiting = True
            PUSHER_DISABLED.labels(self._sink.name).set(1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.disabled_poll_s)
        if waiting:
            logger.info("%s pusher for %s re-enabled", self._sink.name, self._channel)
        PUSHER_DISABLED.labels(self._sink.name).set(0)

    async def _housekeep(self) -> None:
        """Parked retries that are due, and a resync when trimmed changes were seen."""
        await self.retry_parked()
        if self._resync_wanted:
            self._resync_wanted = False
            await self.resync_channel()
        PUSHER_PARKED.labels(self._sink.name).set(len(self._parking))

    async def _push(
        self,
        latest: Sequence[Change],
        ids_by_sku: Mapping[str, Sequence[str]],
        failures: Mapping[str, int],
        settled: list[str],
    ) -> list[Outcome]:
        """Push what is newer than confirmed; commit what was decided, park what was deferred.

        `ids_by_sku` are the entries each figure stands for (acked once it is decided),
        `failures` how often a parked figure was deferred before, `settled` entries to ack.
        """
        pushed = await self._load_pushed([c.sku for c in latest])
        fresh = newer_than_pushed(latest, pushed)
        outcomes = await self._sink.push(fresh, pushed) if fresh else []
        decided: list[Outcome] = []
        parked: set[str] = set()
        for outcome in outcomes:
            sku = outcome.change.sku
            if isinstance(outcome, Deferred):
                settled_outcome = self._defer(
                    outcome, ids_by_sku.get(sku, ()), failures.get(sku, 0) + 1
                )
                if settled_outcome is None:
                    parked.add(sku)
                    continue
                outcome = settled_outcome
            decided.append(outcome)
        acks = settled + [i for sku, ids in ids_by_sku.items() if sku not in parked for i in ids]
        await self._commit(decided, acks)
        return outcomes

    def _defer(self, deferred: Deferred, entry_ids: Sequence[str], failures: int) -> Outcome | None:
        """Park a deferred figure for its next retry; a dead letter once the schedule is spent."""
        delay_s = self._sink.retry_delay_s(failures, deferred.hint_s)
        if delay_s is None:
            PUSHER_PUSHES.labels(self._sink.name, "dead_letter").inc()
            reason = f"retries exhausted after {failures} attempts; last: {deferred.reason}"
            return DeadLettered(deferred.change, reason, failures)
        self._parking.park(
            deferred.change,
            entry_ids,
            failures=failures,
            due_s=self._clock() + delay_s,
            reason=deferred.reason,
        )
        logger.info(
            "%s %s deferred (%s); retry %d in %.0fs",
            deferred.change.sku,
            deferred.change.version.wire(),
            deferred.reason,
            failures,
            delay_s,
        )
        return None

    def _trimmed(self, where: str, count: int) -> None:
        PUSHER_TRIMS.labels(self._sink.name, where).inc()
        logger.warning(
            "%d change(s) of %s trimmed before they were sent (%s)", count, self._stream, where
        )
        self._resync_wanted = True

    def _block_ms(self) -> int:
        """The read's BLOCK: no longer than until the next parked retry is due."""
        block_ms = self._settings.read_block_ms
        next_due_s = self._parking.next_due_s()
        if next_due_s is not None:
            block_ms = min(block_ms, max(1, int((next_due_s - self._clock()) * 1000)))
        return block_ms

    async def _read_new(self, *, block_ms: int | None) -> list[Entry]:
        if await unread_trimmed(self._redis, self._channel, self._group):
            self._trimmed("unread", 1)
        entries = await self._read(">", block_ms=block_ms)
        window_s = self._settings.coalesce_window_s
        room = self._settings.read_entries_max - len(entries)
        if entries and window_s > 0 and room > 0:
            # A burst: give it a moment to finish so each SKU is pushed once.
            await asyncio.sleep(window_s)
            entries += await self._read(">", block_ms=None, count=room)
        return entries

    async def _read(self, start: str, *, block_ms: int | None, count: int = 0) -> list[Entry]:
        reply: Any = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            {self._stream: start},
            count=count or self._settings.read_entries_max,
            block=block_ms,
        )
        if not reply:
            return []
        # RESP2 answers a list of [stream, entries]; RESP3 a dict {stream: [entries]}.
        streams = reply.values() if isinstance(reply, dict) else (pair[1] for pair in reply)
        return [entry for entries in streams for entry in flat(entries)]

    async def _load_pushed(self, skus: Sequence[str]) -> dict[str, PushedFigure]:
        return await load_pushed(self._redis, self._pushed_key, skus)

    async def _commit(self, outcomes: Sequence[Outcome], entry_ids: Sequence[str]) -> None:
        await commit(
            self._redis,
            self._channel,
            self._sink.name,
            outcomes,
            entry_ids,
            dlq_len_max=self._settings.dlq_len_max,
        )


def _stream_vanished(error: ResponseError) -> bool:
    """The reply Redis gives a blocked or new XREADGROUP whose stream or group is gone."""
    message = str(error)
    return (
        message.startswith("UNBLOCKED")
        or message.startswith("NOGROUP")
        or "no such key" in message  # XINFO on a stream deleted since
    )
