"""What a pusher writes back to Redis: confirmed figures, dead letters, acks.

`tally:pushed:{pusher}:{channel}` holds the last figure the external side confirmed per SKU;
`tally:pusher-dlq:{channel}` the figures given up on (keys.py has the layouts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from base.redis_keys import changes_key
from connectors.pushers import keys
from connectors.pushers.changes import DeadLettered, Delivered, Outcome, PushedFigure
from connectors.pushers.keys import PusherKind
from connectors.pushers.redis_io import text

logger = logging.getLogger("tally.pusher")


async def load_pushed(
    client: aioredis.Redis, pushed_key: str, skus: Sequence[str]
) -> dict[str, PushedFigure]:
    """The confirmed figure of each SKU that has one."""
    if not skus:
        return {}
    values = await client.hmget(pushed_key, list(skus))
    return {sku: PushedFigure.parse(text(v)) for sku, v in zip(skus, values, strict=True) if v}


async def commit(
    client: aioredis.Redis,
    channel: str,
    pusher: PusherKind,
    outcomes: Sequence[Outcome],
    entry_ids: Sequence[str],
    *,
    dlq_len_max: int,
) -> None:
    """In one MULTI: record confirmed figures, dead-letter failures, XACK `entry_ids`."""
    now_ms = int(time.time() * 1000)
    async with client.pipeline(transaction=True) as pipe:
        confirmed: dict[FieldT, EncodableT] = {
            o.change.sku: PushedFigure(o.change.version, o.change.available).wire()
            for o in outcomes
            if isinstance(o, Delivered)
        }
        if confirmed:
            pipe.hset(keys.pushed_key(pusher, channel), mapping=confirmed)
        for outcome in outcomes:
            if isinstance(outcome, DeadLettered):
                pipe.xadd(
                    keys.dlq_key(channel),
                    _dead_letter_fields(pusher, outcome, now_ms),
                    maxlen=dlq_len_max,
                    approximate=True,
                )
                logger.warning(
                    "dead-lettered %s %s: %s",
                    outcome.change.sku,
                    outcome.change.version.wire(),
                    outcome.reason,
                )
        if entry_ids:
            pipe.xack(changes_key(channel), keys.group_name(pusher), *entry_ids)
        await pipe.execute()


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
