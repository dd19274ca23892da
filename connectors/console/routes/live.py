"""Live updates as server-sent events: a SKU's figures (woken by the publisher's per-SKU
signal, `tally:sku-changes:{sku}`) and the operations figures (the workers' /metrics, 1/s).

Each stream is bounded in time (`console.live_stream_s_max`; the browser reconnects by
itself) and ends when the browser goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from base.redis_keys import sku_changes_key
from base.settings import Settings
from connectors.console.access import AdminDep, ViewerDep
from connectors.console.figures import live_figures
from connectors.gateway.backends import Reads
from connectors.gateway.params import SkuPath
from connectors.gateway.state import ReadsDep, SettingsDep
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import kafka_consumer, read_policy
from connectors.inspect.top import (
    HTTP_TIMEOUT_S,
    Samples,
    default_metrics_urls,
    quantile_by_channel,
    scrape,
    snapshot_between,
)

router = APIRouter(prefix="/console/live", include_in_schema=False)
KEEP_ALIVE_S = 15.0
OPS_INTERVAL_S = 1.0
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {orjson.dumps(data).decode()}\n\n"


@router.get("/sku/{sku}")
async def sku_live(
    request: Request, sku: SkuPath, who: ViewerDep, settings: SettingsDep, reads: ReadsDep
) -> StreamingResponse:
    async with kafka_consumer(settings) as consumer:
        book, _ = await read_policy(consumer, settings)
    channels = who.channels(book.channels)
    stream = _sku_events(request, settings, reads, sku, channels)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


async def _sku_events(
    request: Request, settings: Settings, reads: Reads, sku: str, channels: list[str]
) -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=True)
    signals = client.pubsub(ignore_subscribe_messages=True)
    try:
        await signals.subscribe(sku_changes_key(sku))  # before the first read: nothing missed
        figures = await live_figures(reads, sku, channels)
        yield event("figures", {"figures": figures.by_element(), "version": None})
        quiet_since = started = time.monotonic()
        while time.monotonic() - started < settings.console.live_stream_s_max:
            if await request.is_disconnected():
                return
            signal = await signals.get_message(timeout=1.0)
            if signal is None:
                if time.monotonic() - quiet_since > KEEP_ALIVE_S:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            figures = await live_figures(reads, sku, channels)
            yield event("figures", {"figures": figures.by_element(), "version": signal["data"]})
            quiet_since = time.monotonic()
    finally:
        await signals.aclose()
        await client.aclose()


@router.get("/ops")
async def ops_live(request: Request, who: AdminDep, settings: SettingsDep) -> StreamingResponse:
    stream = _ops_events(request, settings)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


def metrics_urls(settings: Settings) -> list[str]:
    configured = settings.console.metrics_url
    return [configured] if configured else default_metrics_urls(settings)


async def _ops_events(request: Request, settings: Settings) -> AsyncIterator[str]:
    urls = metrics_urls(settings)
    previous: tuple[Samples, float] | None = None
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        while time.monotonic() - started < settings.console.live_stream_s_max:
            if await request.is_disconnected():
                return
            try:
                samples, at = await scrape(client, urls), time.monotonic()
            except ServiceDown as down:
                previous = None
                yield event("ops", {"error": str(down)})
            else:
                if previous is not None:
                    yield event("ops", ops_figures(previous[0], samples, at - previous[1], urls))
                previous = (samples, at)
            await asyncio.sleep(OPS_INTERVAL_S)


def ops_figures(
    first: Samples, second: Samples, window_s: float, urls: list[str]
) -> dict[str, Any]:
    """The operations page's numbers over one window between two scrapes."""
    snapshot = snapshot_between(first, second, window_s, urls)
    delta = {key: value - first.get(key, 0.0) for key, value in second.items()}
    return {
        "events_per_s": round(snapshot.events_per_s, 1),
        "p50_s": quantile_by_channel(0.5, delta, second),
        "p99_s": snapshot.p99_sync_latency_s,
        "consumer_lag": snapshot.consumer_lag,
        "oversells": snapshot.oversells,
        "dead_letters": snapshot.dead_letters,
        "dead_letters_per_s": round(snapshot.dead_letters_per_s, 2),
        "hold_decisions_per_s": snapshot.hold_decisions_per_s,
        "at_ms": int(time.time() * 1000),
    }
