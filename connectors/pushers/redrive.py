"""`tally push redrive` and `tally push enable`: repair what a pusher gave up on.

Redrive re-sends the SKUs of a pusher's dead letters with their *current* figure (from
`tally:ats:{channel}`, never the stale one in the letter), records what was confirmed, and
deletes the letters of every SKU that is now settled: delivered, or already confirmed at
the current version. Letters whose push fails again stay, as does a SKU with no published
figure. Enable deletes the 410 mark, so a disabled pusher resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from connectors.pushers import keys
from connectors.pushers.bookkeeping import commit, load_pushed
from connectors.pushers.changes import Delivered, Outcome, newer_than_pushed
from connectors.pushers.keys import PusherKind
from connectors.pushers.redis_io import current_figures, fields_of, text
from connectors.pushers.runner import Sink

LETTERS_PER_READ = 1_000


@dataclass(frozen=True)
class RedriveReport:
    pusher: str
    letters: int  # dead letters of this pusher found
    skus: int  # distinct SKUs among them
    delivered: int  # current figures the external side took now
    current: int  # SKUs already confirmed at their current version (nothing to send)
    failed: int  # SKUs whose push failed again (their letters stay)
    missing: int  # SKUs with no published figure (their letters stay)
    removed: int  # dead letters deleted


async def redrive(
    client: aioredis.Redis, channel: str, sink: Sink, *, dlq_len_max: int
) -> RedriveReport:
    """Re-send the current figure of every SKU the pusher dead-lettered; see the module."""
    letters = await dead_letters(client, channel, sink.name)
    skus = sorted({sku for _, sku in letters})
    figures = await current_figures(client, channel, skus)
    pushed = await load_pushed(client, keys.pushed_key(sink.name, channel), list(figures))
    fresh = newer_than_pushed(figures.values(), pushed)
    outcomes: list[Outcome] = await sink.push(fresh, pushed) if fresh else []
    delivered = {o.change.sku for o in outcomes if isinstance(o, Delivered)}
    current = set(figures) - {change.sku for change in fresh}
    settled = delivered | current
    await commit(
        client,
        channel,
        sink.name,
        [o for o in outcomes if isinstance(o, Delivered)],
        [],
        dlq_len_max=dlq_len_max,
    )
    done = [entry_id for entry_id, sku in letters if sku in settled]
    if done:
        await client.xdel(keys.dlq_key(channel), *done)
    return RedriveReport(
        pusher=sink.name,
        letters=len(letters),
        skus=len(skus),
        delivered=len(delivered),
        current=len(current),
        failed=len(fresh) - len(delivered),
        missing=len(skus) - len(figures),
        removed=len(done),
    )


async def dead_letters(
    client: aioredis.Redis, channel: str, pusher: PusherKind
) -> list[tuple[str, str]]:
    """(entry id, sku) of every dead letter `pusher` wrote for the channel, oldest first."""
    found: list[tuple[str, str]] = []
    start = "-"
    while True:
        chunk: Any = await client.xrange(keys.dlq_key(channel), start, "+", count=LETTERS_PER_READ)
        for entry_id, raw in chunk:
            fields = fields_of(raw) or {}
            if fields.get("pusher") == pusher and fields.get("sku"):
                found.append((text(entry_id), fields["sku"]))
        if len(chunk) < LETTERS_PER_READ:
            return found
        start = "(" + text(chunk[-1][0])


async def pushers_with_letters(client: aioredis.Redis, channel: str) -> Sequence[PusherKind]:
    """The pushers that have dead letters for the channel."""
    return [kind for kind in keys.PUSHER_KINDS if await dead_letters(client, channel, kind)]


async def enable(client: aioredis.Redis, channel: str, pusher: PusherKind) -> bool:
    """Re-enable a pusher its endpoint disabled (410); False when it was not disabled."""
    return bool(await client.delete(keys.disabled_key(pusher, channel)))
