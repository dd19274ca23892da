"""`tally push` / `python -m connectors.pushers`: run a channel pusher until SIGTERM, and
its repairs: `tally push redrive` (re-send dead letters) and `tally push enable` (after 410).
"""

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
from connectors.pushers import redrive as repairs
from connectors.pushers.amazon import AmazonSink, SellerSkus
from connectors.pushers.keys import PUSHER_KINDS, PusherKind
from connectors.pushers.runner import Pusher, Sink
from connectors.pushers.shopify import ShopifyMapping, ShopifySink
from connectors.pushers.stops import PusherStop
from connectors.pushers.webhook import WebhookSink

logger = logging.getLogger("tally.pusher")

push_app = typer.Typer(
    help="Push a channel's figures to Shopify, Amazon or a signed webhook; repair pushers.",
    invoke_without_command=True,
    no_args_is_help=False,
)

ChannelOption = Annotated[
    str | None, typer.Option("--channel", help="The channel whose changes to push.")
]
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="Shopify SKU -> item/location file (JSON or YAML)."),
]


def build_sink(settings: Settings, channel: str, pusher: PusherKind, mapping: Path | None) -> Sink:
    config = settings.pusher
    if pusher == "webhook":
        return WebhookSink(config, channel)
    if pusher == "amazon":
        skus = Path(config.amazon_sku_map_path) if config.amazon_sku_map_path else None
        return AmazonSink(config, channel, SellerSkus.load(skus))
    mapping_path = mapping or (
        Path(config.shopify_mapping_path) if config.shopify_mapping_path else None
    )
    if mapping_path is None:
        raise ValueError("give --mapping or set TALLY_PUSHER__SHOPIFY_MAPPING_PATH")
    return ShopifySink(config, channel, ShopifyMapping.load(mapping_path))


def redis_client(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s + settings.pusher.read_block_ms / 1000,
    )


async def run(
    settings: Settings, channel: str, pusher: PusherKind, mapping: Path | None, consumer: str | None
) -> None:
    sink = build_sink(settings, channel, pusher, mapping)
    client = redis_client(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await Pusher(client, channel, sink, settings.pusher, consumer=consumer).run(stop)
    finally:
        await sink.aclose()
        await client.aclose()


def pusher_kind(value: str | None) -> PusherKind:
    for kind in PUSHER_KINDS:
        if value == kind:
            return kind
    raise typer.BadParameter(" | ".join(PUSHER_KINDS), param_hint="--pusher")


def required_channel(channel: str | None) -> str:
    if not channel:
        raise typer.BadParameter("required", param_hint="--channel")
    return channel


@push_app.callback()
def push(
    ctx: typer.Context,
    channel: ChannelOption = None,
    pusher: Annotated[
        str | None, typer.Option("--pusher", help="Where to push: shopify | webhook | amazon.")
    ] = None,
    mapping: MappingOption = None,
    consumer: Annotated[
        str | None, typer.Option("--consumer", help="Consumer name (default from settings).")
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Follow tally:changes:{channel} and push coalesced figures to Shopify, Amazon or a webhook."""
    if ctx.invoked_subcommand is not None:
        return
    name, kind = required_channel(channel), pusher_kind(pusher)
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    settings = get_settings()
    start_http_server(settings.pusher.metrics_port, addr=settings.pusher.metrics_host)
    logger.info("pushing %s to %s (metrics on :%d)", name, kind, settings.pusher.metrics_port)
    try:
        asyncio.run(run(settings, name, kind, mapping, consumer))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    except PusherStop as stopped:
        typer.echo(f"error: {kind} pusher stopped: {stopped.reason}", err=True)
        raise typer.Exit(3) from stopped


@push_app.command("redrive")
def redrive_command(
    channel: ChannelOption = None,
    pusher: Annotated[
        str | None, typer.Option("--pusher", help="Only this pusher's dead letters.")
    ] = None,
    mapping: MappingOption = None,
) -> None:
    """Re-send the current figure of every dead-lettered SKU; delete the letters it settles."""
    name = required_channel(channel)
    settings = get_settings()
    try:
        reports = asyncio.run(_redrive(settings, name, pusher, mapping))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    except PusherStop as stopped:
        typer.echo(f"error: stopped: {stopped.reason}; dead letters kept", err=True)
        raise typer.Exit(3) from stopped
    if not reports:
        typer.echo(f"redrive {name}: no dead letters")
    for r in reports:
        typer.echo(
            f"redrive {name} {r.pusher}: {r.letters} dead letters, {r.skus} SKUs: "
            f"{r.delivered} delivered, {r.current} already current, {r.failed} failed again, "
            f"{r.missing} without a figure; {r.removed} letters removed"
        )
    if any(r.failed or r.missing for r in reports):
        raise typer.Exit(1)


async def _redrive(
    settings: Settings, channel: str, pusher: str | None, mapping: Path | None
) -> list[repairs.RedriveReport]:
    client = redis_client(settings)
    try:
        kinds = (
            [pusher_kind(pusher)] if pusher else await repairs.pushers_with_letters(client, channel)
        )
        reports = []
        for kind in kinds:
            sink = build_sink(settings, channel, kind, mapping)
            try:
                reports.append(
                    await repairs.redrive(
                        client, channel, sink, dlq_len_max=settings.pusher.dlq_len_max
                    )
                )
            finally:
                await sink.aclose()
        return reports
    finally:
        await client.aclose()


@push_app.command("enable")
def enable_command(
    channel: ChannelOption = None,
    pusher: Annotated[str | None, typer.Option("--pusher", help="The disabled pusher.")] = None,
) -> None:
    """Re-enable a pusher that stopped sending because its endpoint answered 410 Gone."""
    name, kind = required_channel(channel), pusher_kind(pusher)

    async def _enable() -> bool:
        client = redis_client(get_settings())
        try:
            return await repairs.enable(client, name, kind)
        finally:
            await client.aclose()

    if asyncio.run(_enable()):
        typer.echo(f"enabled: the {kind} pusher of {name} resumes sending")
    else:
        typer.echo(f"{kind} pusher of {name} was not disabled; nothing to do")
