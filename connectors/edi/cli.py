"""`tally edi receive | advise | ack`: the EDI commands (registered in ops/cli.py).

Exit codes: 0 done, 1 the document was rejected (a rejecting 997 was written for an
inbound interchange) or a 997 acknowledges a group we never sent, 2 a bad partner or
profile, 3 Kafka or Redis is down.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import redis.asyncio as aioredis
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from base.settings import Settings, get_settings
from connectors.edi.acknowledge import AckOutcome, apply_acks, partner_for, read_partner_acks
from connectors.edi.advise import Advice, NoChannel, advise, advise_changes, ensure_group, follow
from connectors.edi.interchange import Interchange
from connectors.edi.partners import PartnerProfile, UnknownPartner, load_partner, load_partners
from connectors.edi.receive import Receipt, receive

EXIT_REJECTED, EXIT_BAD_PROFILE, EXIT_SERVICE_DOWN = 1, 2, 3

edi_app = typer.Typer(
    help="EDI X12 with wholesale partners: 856 in, 846 out, 997s both ways.",
    no_args_is_help=True,
)
PartnerOption = Annotated[
    str, typer.Option("--partner", help="The partner's name in settings.edi.partners_file.")
]
FileArgument = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An X12 file.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _profiles(settings: Settings) -> dict[str, PartnerProfile]:
    try:
        return load_partners(settings.edi.partners_file)
    except (OSError, ValueError, ValidationError) as error:
        raise _fail(f"partners file: {error}", EXIT_BAD_PROFILE) from error


def _profile(settings: Settings, name: str) -> PartnerProfile:
    try:
        return load_partner(settings.edi.partners_file, name)
    except UnknownPartner as error:
        raise _fail(str(error.args[0]), EXIT_BAD_PROFILE) from error
    except (OSError, ValueError, ValidationError) as error:
        raise _fail(f"partners file: {error}", EXIT_BAD_PROFILE) from error


def _quiet() -> None:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


# --- receive ------------------------------------------------------------------------------


@edi_app.command("receive")
def receive_command(file: FileArgument, partner: PartnerOption) -> None:
    """Take in an 856 interchange: supply_expected facts to Kafka (all or none), and a 997."""
    settings = get_settings()
    profile = _profile(settings, partner)
    _quiet()
    try:
        receipt = asyncio.run(receive(settings, profile, file, datetime.now(UTC)))
    except (KafkaError, OSError) as error:
        reason = f"Kafka at {settings.kafka.bootstrap}: {error!r}; nothing acknowledged"
        raise _fail(reason, EXIT_SERVICE_DOWN) from error
    _print_receipt(file, receipt, settings.topics.events)
    if not receipt.accepted:
        raise typer.Exit(EXIT_REJECTED)


def _print_receipt(file: Path, receipt: Receipt, topic: str) -> None:
    typer.echo(_describe(file, receipt.interchange))
    if receipt.accepted:
        typer.echo(f"accepted: {len(receipt.facts)} supply_expected facts on {topic}")
        for fact in receipt.facts:
            typer.echo(
                f"  {fact.sku} at {fact.location}: {fact.qty} units, "
                f"order {fact.order_id}, eta {fact.eta.isoformat()}, event {fact.event_id}"
            )
    else:
        typer.echo("rejected, nothing produced:")
        for reason in receipt.interchange.reasons():
            typer.echo(f"  {reason}")
    verdict = "accepting" if receipt.accepted else "rejecting"
    typer.echo(f"997 ({verdict}): {receipt.ack_path}")


def _describe(file: Path, interchange: Interchange) -> str:
    sets = sum(1 for _ in interchange.sets())
    return (
        f"{file.name}: interchange {interchange.control} from {interchange.sender or '?'}, "
        f"{len(interchange.groups)} group(s), {sets} transaction set(s)"
    )


# --- advise -------------------------------------------------------------------------------


@edi_app.command("advise")
def advise_command(
    partner: PartnerOption,
    on_change: Annotated[
        bool, typer.Option("--on-change", help="Follow tally:changes:{channel}; one 846 a batch.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="With --on-change: advise what is waiting, then exit.")
    ] = False,
) -> None:
    """Send the partner an 846 of its channel's published figures (now, or on every change)."""
    settings = get_settings()
    profile = _profile(settings, partner)
    try:
        asyncio.run(_advise(settings, profile, on_change=on_change, once=once))
    except NoChannel as error:
        raise _fail(str(error), EXIT_BAD_PROFILE) from error
    except (RedisConnectionError, OSError) as error:
        raise _fail(f"Redis at {settings.redis.host}:{settings.redis.port}: {error}", 3) from error


async def _advise(
    settings: Settings, partner: PartnerProfile, *, on_change: bool, once: bool
) -> None:
    client = aioredis.Redis.from_url(
        settings.redis.url,
        decode_responses=True,
        socket_timeout=settings.redis.socket_timeout_s + settings.edi.read_block_ms / 1000,
    )
    try:
        if not on_change:
            _print_advice(partner, await advise(settings.edi, partner, client))
        elif once:
            await ensure_group(client, partner)
            sent = 0
            while advice := await advise_changes(settings.edi, partner, client, block=False):
                _print_advice(partner, advice)
                sent += 1
            if not sent:
                typer.echo(f"846 to {partner.name}: no change of its items waiting")
        else:
            await follow(
                settings.edi, partner, client, _stop_on_signals(), _print_advice_of(partner)
            )
    finally:
        await client.aclose()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _print_advice_of(partner: PartnerProfile) -> Callable[[Advice], None]:
    return lambda advice: _print_advice(partner, advice)


def _print_advice(partner: PartnerProfile, advice: Advice | None) -> None:
    if advice is None:
        typer.echo(f"846 to {partner.name}: nothing to advise (no published figure of its items)")
        return
    controls = advice.controls
    typer.echo(
        f"846 to {partner.name}: {len(advice.figures)} item(s) of channel {partner.channel}, "
        f"interchange {controls.interchange}, group {controls.group}, set {controls.sets[0]}"
    )
    for sku, units in sorted(advice.figures.items()):
        typer.echo(f"  {sku}: {units}")
    if advice.unpublished:
        typer.echo(f"  not published (left out): {', '.join(advice.unpublished)}")
    typer.echo(f"written: {advice.path}")


# --- ack ----------------------------------------------------------------------------------


@edi_app.command("ack")
def ack_command(
    file: FileArgument,
    partner: Annotated[
        str | None, typer.Option("--partner", help="Default: the partner whose ISA id sent it.")
    ] = None,
) -> None:
    """Read a partner's 997 for our 846s: mark each set accepted or rejected."""
    settings = get_settings()
    text = file.read_text(encoding="latin-1")
    profile = _profile(settings, partner) if partner else partner_for(text, _profiles(settings))
    if profile is None:
        raise _fail(f"{file.name}: its ISA sender is no partner's; give --partner", 2)
    interchange, found = read_partner_acks(text, profile, settings.edi)
    typer.echo(_describe(file, interchange))
    if not interchange.ok:
        typer.echo("not read, nothing marked:")
        for reason in interchange.reasons():
            typer.echo(f"  {reason}")
        raise typer.Exit(EXIT_REJECTED)
    outcomes = apply_acks(settings.edi, profile, found)
    for outcome in outcomes:
        typer.echo(_ack_line(profile, outcome))
    if any(outcome.advice is None for outcome in outcomes):
        raise typer.Exit(EXIT_REJECTED)  # a 997 for something we never sent: look into it


def _ack_line(partner: PartnerProfile, outcome: AckOutcome) -> str:
    acked = outcome.acked
    if outcome.advice is None:
        where = f"{acked.functional_id} group {acked.control}"
        return f"997 for {where}: no 846 group {acked.control} was sent to {partner.name}"
    codes = f" (AK9 codes {', '.join(acked.codes)})" if acked.codes else ""
    marks = ", ".join(f"set {control} {verdict}" for control, verdict in outcome.verdicts.items())
    return (
        f"997 for 846 group {acked.control} (interchange {outcome.advice.interchange}): "
        f"AK9 {acked.status}{codes}; {marks}"
    )
