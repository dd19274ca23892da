"""`tally policy location set | show`: a location's record (coordinates, what it may do, its
capacity, costs, calendar, safety stock) produced to the policy topic, and the current book."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
import typer
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from rich.table import Table

from base.kafka_client import client_options, start_or_close
from base.settings import Settings, get_settings
from base.topics import ensure_topics
from connectors.inspect.kafka_read import kafka_consumer, read_policy
from ledger.codec import encode
from ledger.policy import LocationPolicy, PolicyBook
from ops import cli_output
from ops.cli_ledger import JsonOption, run_reporting_errors

policy_app = typer.Typer(help="Channel and location policy.")
location_app = typer.Typer(help="A location's record.")
policy_app.add_typer(location_app, name="location")
Opt = typer.Option


@location_app.command("set")
def set_location(
    location: Annotated[str, typer.Argument(help="The location id.")],
    safety_stock: Annotated[int | None, Opt(help="Units held back for every SKU.")] = None,
    name: Annotated[str | None, Opt(help="A name people read.")] = None,
    location_type: Annotated[str | None, Opt("--type", help="dc | store | 3pl | drop_ship")] = None,
    latitude: Annotated[float | None, Opt(help="Degrees, -90..90.")] = None,
    longitude: Annotated[float | None, Opt(help="Degrees, -180..180.")] = None,
    capability: Annotated[
        list[str] | None, Opt(help="ship | pickup | ship_from_store (repeat; replaces the list)")
    ] = None,
    capacity: Annotated[int | None, Opt(help="Orders per local day (-1: no limit).")] = None,
    handling_order_cents: Annotated[int | None, Opt(help="Handling cost per order.")] = None,
    handling_unit_cents: Annotated[int | None, Opt(help="Handling cost per unit.")] = None,
    processing_minutes: Annotated[int | None, Opt(help="Pick and pack time.")] = None,
    cutoff: Annotated[str | None, Opt(help="Local HH:MM after which orders ship next day.")] = None,
    open_days: Annotated[str | None, Opt(help="e.g. mon,tue,wed,thu,fri")] = None,
    time_zone: Annotated[str | None, Opt(help="IANA time zone, e.g. America/New_York.")] = None,
    holiday: Annotated[list[str] | None, Opt(help="A closed date YYYY-MM-DD (repeat).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Change a location's record: options given replace those fields, the rest are kept."""
    settings = get_settings()
    book = run_reporting_errors(lambda: _book(settings), json_output)
    changes = _changes(
        safety_stock_units=safety_stock,
        name=name,
        location_type=location_type,
        latitude=latitude,
        longitude=longitude,
        capabilities=None if capability is None else tuple(capability),
        handling_cost_per_order_cents=handling_order_cents,
        handling_cost_per_unit_cents=handling_unit_cents,
        processing_minutes=processing_minutes,
        cutoff_local=cutoff,
        open_days=None if open_days is None else tuple(open_days.split(",")),
        time_zone=time_zone,
        holidays=None if holiday is None else tuple(date.fromisoformat(d) for d in holiday),
    )
    if capacity is not None:
        changes["daily_order_capacity"] = None if capacity < 0 else capacity
    record = _record(book, location, changes)
    run_reporting_errors(lambda: _produce(settings, record), json_output)
    if json_output:
        cli_output.emit_json(record.model_dump(mode="json"))
        return
    typer.echo(f"policy: location {location} set (version {record.version})")


def _changes(**given: Any) -> dict[str, Any]:
    return {field: value for field, value in given.items() if value is not None}


def _record(book: PolicyBook, location: str, changes: dict[str, Any]) -> LocationPolicy:
    current = book.locations.get(location)
    fields = {} if current is None else current.model_dump(mode="json")
    fields.update(changes)
    fields.update(
        kind="location",
        location=location,
        version=time.time_ns() // 1000,
        updated_at=datetime.now(UTC).isoformat(),
    )
    try:
        return LocationPolicy.model_validate_json(orjson.dumps(fields))
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        )
        typer.echo(f"error: {reasons}", err=True)
        raise typer.Exit(1) from error


async def _book(settings: Settings) -> PolicyBook:
    async with kafka_consumer(settings) as consumer:
        book, _ = await read_policy(consumer, settings)
    return book


async def _produce(settings: Settings, record: LocationPolicy) -> None:
    await ensure_topics(settings)  # one partition: its offsets are the policy version
    producer = AIOKafkaProducer(**client_options(settings.kafka), acks="all")
    await start_or_close(producer)
    try:
        key = f"location:{record.location}".encode()
        await (await producer.send(settings.topics.policy, encode(record), key=key, partition=0))
    finally:
        await producer.stop()


@policy_app.command("show")
def show_policy(json_output: JsonOption = False) -> None:
    """Every channel's and location's current record."""
    settings = get_settings()
    book = run_reporting_errors(lambda: _book(settings), json_output)
    if json_output:
        cli_output.emit_json(
            {
                "channels": {k: v.model_dump(mode="json") for k, v in book.channels.items()},
                "locations": {k: v.model_dump(mode="json") for k, v in book.locations.items()},
            }
        )
        return
    console = cli_output.console()
    channels = Table("channel", "locations", "pickup", "buffer", "rules", "shipments max")
    for channel in book.channels.values():
        channels.add_row(
            channel.channel,
            ", ".join(channel.locations),
            ", ".join(channel.pickup_locations) or "-",
            str(channel.buffer_units),
            " > ".join(channel.sourcing_rules),
            str(channel.max_shipments),
        )
    console.print(channels)
    locations = Table("location", "type", "at", "may", "capacity/day", "safety", "zone")
    for loc in book.locations.values():
        where = "-" if loc.coordinates is None else f"{loc.latitude:.3f},{loc.longitude:.3f}"
        capacity = "-" if loc.daily_order_capacity is None else str(loc.daily_order_capacity)
        locations.add_row(
            loc.location,
            loc.location_type,
            where,
            ", ".join(loc.capabilities),
            capacity,
            str(loc.safety_stock_units),
            loc.time_zone,
        )
    console.print(locations)
