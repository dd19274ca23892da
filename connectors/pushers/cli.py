"""`python -m connectors.pushers` / `tally push`: run one channel pusher until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import redis.asyncio as aioredis
import typer
from prometheus_client import start_http_server

from base.settings import Settings, get_settings
from connectors.pushers.keys import PusherKind
from connectors.pushers.runner import Pusher, Sink
from connectors.pushers.shopify import ShopifyMapping, ShopifySink
from connectors.pushers.webhook import WebhookSink

logger = logging.getLogger("tally.pusher")


def build_sink(settings: Settings, channel: str, pusher: PusherKind, mapping: Path | None) -> Sink:
    config = settings.pusher
    if pusher == "webhook":
        return WebhookSink(config, channel)
    mapping_path = mapping or (
        Path(config.shopify_mapping_path) if config.shopify_mapping_path else None
    )
    if mapping_path is None:
        raise ValueError("give --mapping or set TALLY_PUSHER__SHOPIFY_MAPPING_PATH")
    return ShopifySink(config, channel, ShopifyMapping.load(mapping_path))


async def run(
    settings: Settings, channel: str, pusher: PusherKind, mapping: Path | None, consumer: str | None
) -> None:
    sink = build_sink(settings, channel, pusher, mapping)
    client = aioredis.Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s + settings.pusher.read_block_ms / 1000,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await Pusher(client, channel, sink, settings.pusher, consumer=consumer).run(stop)
    finally:
        await sink.aclose()
        await client.aclose()


def push(
    channel: Annotated[str, typer.Option("--channel", help="The channel whose changes to push.")],
    pusher: Annotated[str, typer.Option("--pusher", help="Where to push: shopify | webhook.")],
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Shopify SKU -> item/location file (JSON or YAML)."),
    ] = None,
    consumer: Annotated[
        str | None, typer.Option("--consumer", help="Consumer name (default from settings).")
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Follow tally:changes:{channel} and push coalesced figures to Shopify or a webhook."""
    if pusher not in ("shopify", "webhook"):
        raise typer.BadParameter("shopify or webhook", param_hint="--pusher")
    kind: PusherKind = "shopify" if pusher == "shopify" else "webhook"
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    settings = get_settings()
    start_http_server(settings.pusher.metrics_port, addr=settings.pusher.metrics_host)
    logger.info("pushing %s to %s (metrics on :%d)", channel, kind, settings.pusher.metrics_port)
    try:
        asyncio.run(run(settings, channel, kind, mapping, consumer))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
