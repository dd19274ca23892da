"""Follow `tally:changes:{channel}` with a consumer group and push coalesced figures.

Per batch: read up to `read_entries_max` entries (XREADGROUP), keep the newest figure per
SKU, drop figures not newer than the one the external side already confirmed, push the
rest, then in one MULTI: record what was confirmed, dead-letter what failed, XACK every
entry of the batch. Nothing is acked before the external side answered, so a crash
re-delivers the batch (at-least-once); on start-up the pusher first re-reads its own
pending entries, then claims entries other consumers left pending (XAUTOCLAIM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from base.redis_keys import changes_key
from base.settings import PusherSettings
from connectors.metrics import PUSHER_ERRORS
from connectors.pushers import keys
from connectors.pushers.changes import (
    Change,
    DeadLettered,
    Delivered,
    Outcome,
    PushedFigure,
    coalesce,
    newer_than_pushed,
    parse_entry,
)
from connectors.pushers.keys import PusherKind

logger = logging.getLogger("tally.pusher")

# Backoff while Redis is unreachable: doubling from REDIS_RETRY_S, capped.
REDIS_RETRY_S = 0.25
REDIS_RETRY_S_MAX = 5.0

Entry = tuple[str, Mapping[str, str] | None]


class Sink(Protocol):
    name: PusherKind

    @property
    def batch_max(self) -> int: ...

    async def push(
        self, changes: Sequence[Change], pushed: Mapping[str, PushedFigure]
    ) -> list[Outcome]: ...

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
    ) -> None:
        self._redis = client
        self._channel = channel
        self._sink = sink
        self._settings = settings
        self._consumer = consumer or settings.consumer
        self._stream = changes_key(channel)
        self._group = keys.group_name(sink.name)
        self._pushed_key = keys.pushed_key(sink.name, channel)

    async def run(self, stop: asyncio.Event) -> None:
        """Resume (own pending, then stale ones of others), then follow until `stop` is set.

        A lost Redis connection (a restart, a failover) is waited out with bounded backoff,
        then the pusher resumes from its pending entries: nothing acked is lost. A stream or
        group that vanished under a blocked read (FLUSHALL, a deleted key) is recreated.
        """
        failures = 0
        while not stop.is_set():
            try:
                await self._follow(stop)
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
        await self.resume()
        while not stop.is_set():
            entries = await self._read_new(block_ms=self._settings.read_block_ms)
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
            cursor, claimed = _text(reply[0]), _flat(reply[1])
            deleted = [_text(entry_id) for entry_id in (reply[2] if len(reply) > 2 else [])]
            if deleted:  # trimmed from the stream while pending: nothing left to push
                PUSHER_ERRORS.labels(self._sink.name, "malformed").inc(len(deleted))
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
        """Resume, then handle new entries until none are left (tests, one-shot runs)."""
        handled = await self.resume()
        while entries := await self._read_new(block_ms=None):
            await self.handle(entries)
            handled += len(entries)
        return handled

    async def ensure_group(self) -> None:
        start = "0" if self._settings.start_from == "earliest" else "$"
        try:
            await self._redis.xgroup_create(self._stream, self._group, id=start, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def handle(self, entries: Sequence[Entry]) -> list[Outcome]:
        changes = [c for i, f in entries if (c := parse_entry(i, f)) is not None]
        if len(changes) < len(entries):
            PUSHER_ERRORS.labels(self._sink.name, "malformed").inc(len(entries) - len(changes))
        latest = coalesce(changes)
        pushed = await self._load_pushed([c.sku for c in latest])
        fresh = newer_than_pushed(latest, pushed)
        outcomes = await self._sink.push(fresh, pushed) if fresh else []
        await self._commit(outcomes, [entry_id for entry_id, _ in entries])
        return outcomes

    async def _read_new(self, *, block_ms: int | None) -> list[Entry]:
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
        return [entry for entries in streams for entry in _flat(entries)]

    async def _load_pushed(self, skus: Sequence[str]) -> dict[str, PushedFigure]:
        if not skus:
            return {}
        values = await self._redis.hmget(self._pushed_key, list(skus))
        return {sku: PushedFigure.parse(_text(v)) for sku, v in zip(skus, values, strict=True) if v}

    async def _commit(self, outcomes: Sequence[Outcome], entry_ids: Sequence[str]) -> None:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            confirmed: dict[FieldT, EncodableT] = {
                o.change.sku: PushedFigure(o.change.version, o.change.available).wire()
                for o in outcomes
                if isinstance(o, Delivered)
            }
            if confirmed:
                pipe.hset(self._pushed_key, mapping=confirmed)
            for outcome in outcomes:
                if isinstance(outcome, DeadLettered):
                    pipe.xadd(
                        keys.dlq_key(self._channel),
                        _dead_letter_fields(self._sink.name, outcome, now_ms),
                        maxlen=self._settings.dlq_len_max,
                        approximate=True,
                    )
                    logger.warning(
                        "dead-lettered %s %s: %s",
                        outcome.change.sku,
                        outcome.change.version.wire(),
                        outcome.reason,
                    )
            if entry_ids:
                pipe.xack(self._stream, self._group, *entry_ids)
            await pipe.execute()


def _stream_vanished(error: ResponseError) -> bool:
    """The reply Redis gives a blocked or new XREADGROUP whose stream or group is gone."""
    message = str(error)
    return message.startswith("UNBLOCKED") or message.startswith("NOGROUP")


def _dead_letter_fields(
    pusher: PusherKind, outcome: DeadLettered, now_ms: int
) -> dict[FieldT, EncodableT]:
    change = outcome.change
    return {
        "pusher": pusher,
        "sku": change.sku,
        "available": change.available,
        "version": change.version.wire(),
        "ingested_at": change.ingested_ms,
        "entry_id": change.entry_id,
        "reason": outcome.reason[:1_000],
        "attempts": outcome.attempts,
        "failed_at": now_ms,
    }


def _flat(entries: Any) -> list[Entry]:
    return [(_text(entry_id), _fields(fields)) for entry_id, fields in entries or []]


def _fields(fields: Any) -> Mapping[str, str] | None:
    if not fields:
        return None
    return {_text(k): _text(v) for k, v in fields.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
