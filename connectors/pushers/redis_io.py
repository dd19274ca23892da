"""The pushers' Redis reads: reply decoding, published figures, the stream's trim markers.

A change trimmed from `tally:changes:{channel}` (the stream is capped) before the pusher
sent it shows up in one of two ways: a pending entry whose fields are gone (XREADGROUP from
0, XAUTOCLAIM's deleted ids), or entries never read at all, which Redis records as the
stream's `max-deleted-entry-id` passing the group's last-delivered id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from base.redis_keys import ats_key, changes_key, version_key
from connectors.pushers.changes import Change, entry_order, figure_change

Entry = tuple[str, Mapping[str, str] | None]
FIGURES_SCAN_COUNT = 1_000


def flat(entries: Any) -> list[Entry]:
    return [(text(entry_id), fields_of(fields)) for entry_id, fields in entries or []]


def fields_of(fields: Any) -> Mapping[str, str] | None:
    if not fields:
        return None
    return {text(k): text(v) for k, v in fields.items()}


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def unread_trimmed(client: aioredis.Redis, channel: str, group: str) -> bool:
    """Whether entries the group never read were trimmed (or deleted) from the stream.

    Trimming removes the oldest entries: if the group's last-delivered id is older than
    the stream's first entry and more entries were ever removed (entries-added - length)
    than the group has read (entries-read), some were removed unread. Redis records XDEL
    (not trimming) in max-deleted-entry-id: one past the last-delivered id is unread too.
    Ask before reading: a read past the gap moves the last-delivered id beyond it.
    """
    async with client.pipeline(transaction=False) as pipe:
        pipe.xinfo_stream(changes_key(channel))
        pipe.xinfo_groups(changes_key(channel))
        stream_info, groups = await pipe.execute()
    stream = {text(k): v for k, v in stream_info.items()}
    mine = next((g for g in groups if text(g.get("name")) == group), None)
    if mine is None:
        return False
    delivered = entry_order(text(mine.get("last-delivered-id") or "0-0"))
    if entry_order(text(stream.get("max-deleted-entry-id") or "0-0")) > delivered:
        return True
    first = stream.get("first-entry")
    if not first or entry_order(text(first[0])) <= delivered:
        return False
    removed = int(stream.get("entries-added") or 0) - int(stream.get("length") or 0)
    return removed > int(mine.get("entries-read") or 0)


async def channel_figures(client: aioredis.Redis, channel: str) -> list[Change]:
    """Every SKU's published figure for the channel, as changes (entry id "0-0")."""
    changes: list[Change] = []
    cursor: Any = 0
    while True:
        reply: Any = await client.hscan(ats_key(channel), cursor, count=FIGURES_SCAN_COUNT)
        cursor, chunk = reply
        skus = [text(sku) for sku in chunk]
        changes += await _with_versions(client, channel, skus, [text(v) for v in chunk.values()])
        if int(cursor) == 0:
            return changes


async def current_figures(
    client: aioredis.Redis, channel: str, skus: Sequence[str]
) -> dict[str, Change]:
    """The published figure of each SKU that has one."""
    if not skus:
        return {}
    values = await client.hmget(ats_key(channel), list(skus))
    present = [(sku, text(v)) for sku, v in zip(skus, values, strict=True) if v is not None]
    changes = await _with_versions(
        client, channel, [sku for sku, _ in present], [v for _, v in present]
    )
    return {change.sku: change for change in changes}


async def _with_versions(
    client: aioredis.Redis, channel: str, skus: Sequence[str], units: Sequence[str]
) -> list[Change]:
    if not skus:
        return []
    versions = await client.hmget(version_key("ats", channel), list(skus))
    changes: list[Change] = []
    for sku, available, version in zip(skus, units, versions, strict=True):
        change = figure_change(sku, available, text(version)) if version else None
        if change is not None:
            changes.append(change)
    return changes
