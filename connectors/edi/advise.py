"""`tally edi advise`: send a partner an 846 of the figures its channel publishes in Redis
(`tally:ats:{channel}`), once (run it on a schedule) or on every change (`--on-change`
follows `tally:changes:{channel}` in the consumer group `tally-edi-{partner}`, and sends one
846 per batch of changes of the partner's items, then acknowledges the batch)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from base.redis_keys import ats_key, changes_key
from base.settings import EdiSettings
from connectors.edi.inventory_advice import advice_body
from connectors.edi.outbound import Outgoing, interchange_segments, render_interchange
from connectors.edi.outbound import write_outbox as write
from connectors.edi.partner_state import AdviceStatus, Controls, PartnerState, SentAdvice
from connectors.edi.partners import PartnerProfile

CONSUMER = "edi"  # one advising process per partner


class NoChannel(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Advice:
    path: Path
    controls: Controls
    figures: dict[str, int]  # SKU -> units advised
    unpublished: list[str]  # the partner's SKUs the channel publishes no figure for


def group_name(partner: PartnerProfile) -> str:
    return f"tally-edi-{partner.name}"


def channel_of(partner: PartnerProfile) -> str:
    if partner.channel is None:
        raise NoChannel(f"partner {partner.name!r} has no `channel` to advise")
    return partner.channel


async def published(client: aioredis.Redis, channel: str, skus: list[str]) -> dict[str, int]:
    values = await client.hmget(ats_key(channel), skus) if skus else []
    return {sku: int(value) for sku, value in zip(skus, values, strict=True) if value is not None}


async def advise(
    us: EdiSettings,
    partner: PartnerProfile,
    client: aioredis.Redis,
    skus: Collection[str] | None = None,
) -> Advice | None:
    """One 846 of the published figures of `skus` (default: all the partner's items); None
    when the channel publishes none of them."""
    wanted = sorted(sku for sku in partner.items.values() if skus is None or sku in skus)
    figures = await published(client, channel_of(partner), wanted)
    if not figures:
        return None
    now = datetime.now(UTC)
    state = PartnerState(us.state_dir, partner.name)
    controls = state.reserve(1)
    body = advice_body(partner, figures, f"TALLY{controls.interchange}", now)
    segments = interchange_segments(us, partner, controls, Outgoing("IB", [("846", body)]), now)
    path = write(us, partner.name, "846", controls.interchange, render_interchange(us, segments))
    sets: dict[str, AdviceStatus] = dict.fromkeys(controls.sets, "pending")
    sent_at = now.isoformat()
    state.record_sent(
        SentAdvice(controls.interchange, controls.group, str(path), sent_at, sets, len(figures))
    )
    unpublished = [sku for sku in wanted if sku not in figures]
    return Advice(path, controls, figures, unpublished)


async def ensure_group(client: aioredis.Redis, partner: PartnerProfile) -> None:
    """The consumer group, created at the stream's end: run a full advice first."""
    try:
        await client.xgroup_create(
            changes_key(channel_of(partner)), group_name(partner), id="$", mkstream=True
        )
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


async def advise_changes(
    us: EdiSettings, partner: PartnerProfile, client: aioredis.Redis, *, block: bool
) -> Advice | None:
    """Read one batch of changes (own pending first), advise the partner's SKUs among them,
    then acknowledge the batch. None when the batch held none of its SKUs (or was empty)."""
    stream, group = changes_key(channel_of(partner)), group_name(partner)
    batch = await _read(client, stream, group, "0", us.read_entries_max, None)
    if not batch:
        block_ms = us.read_block_ms if block else None
        batch = await _read(client, stream, group, ">", us.read_entries_max, block_ms)
    if not batch:
        return None
    skus = {sku for _, sku in batch} & set(partner.items.values())
    advice = await advise(us, partner, client, skus) if skus else None
    await client.xack(stream, group, *[entry_id for entry_id, _ in batch])
    return advice


async def _read(
    client: aioredis.Redis, stream: str, group: str, start: str, count: int, block_ms: int | None
) -> list[tuple[str, str]]:
    """(entry id, SKU) of a batch; a trimmed entry (no fields) has SKU "" and is still acked."""
    answer: Any = await client.xreadgroup(
        group, CONSUMER, {stream: start}, count=count, block=block_ms
    )
    return [
        (entry_id, (fields or {}).get("sku", ""))
        for _, entries in answer or []
        for entry_id, fields in entries
    ]


async def follow(
    us: EdiSettings,
    partner: PartnerProfile,
    client: aioredis.Redis,
    stop: asyncio.Event,
    sent: Callable[[Advice], None],
) -> None:
    """advise_changes until `stop` is set; `sent` is told of every 846 written."""
    await ensure_group(client, partner)
    while not stop.is_set():
        advice = await advise_changes(us, partner, client, block=True)
        if advice is not None:
            sent(advice)
