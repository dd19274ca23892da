"""`tally stock | history | explain | top | resync`: the ledger as on-call sees it.

Read-only except `resync` (which only writes figures newer than Redis holds). Every command
takes `--json` for scripts. Exit codes: 0 ok, 1 a bad request (unknown channel, missing
topic, bad option), 3 a service is down (the message names it, its address and the fix),
4 resync could not read a partition to its end (a transaction stayed open; run it again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from base.settings import Settings, get_settings
from connectors.as_of import StockAsOf, stock_at
from connectors.inspect.errors import ServiceDown
from connectors.inspect.explain import Explanation, UnknownChannel, explain
from connectors.inspect.history import LIMIT_MAX, HistoryPage, history
from connectors.inspect.kafka_read import TopicMissing
from connectors.inspect.published import Published
from connectors.inspect.stock import StockReport, stock
from connectors.inspect.top import (
    TopSnapshot,
    default_metrics_urls,
    from_metrics,
    from_prometheus,
    prometheus_up,
)
from ops import cli_output
from ops.inspect.json_body import json_body
from ops.resync import (
    OPEN_TRANSACTION_WAIT_S,
    OPEN_TRANSACTION_WAIT_S_MAX,
    ResyncReport,
    resync,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
R = TypeVar("R", bound="DataclassInstance")
EXIT_BAD_REQUEST = 1
EXIT_SERVICE_DOWN = 3
EXIT_INCOMPLETE = 4  # resync: a partition's figures may be older than its log
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def register(app: typer.Typer) -> None:
    for command in (stock_command, history_command, explain_command, top_command):
        app.command(name=command.__name__.removesuffix("_command"))(command)
    app.command(name="resync")(resync_command)


def _quiet() -> None:
    # Connection failures are reported once, as a ServiceDown; the clients' retries are noise.
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def run_reporting_errors(make: Callable[[], Awaitable[T]], json_output: bool) -> T:
    """Run one async read; turn the errors on-call can act on into clear messages."""
    _quiet()
    try:
        return asyncio.run(_as_coroutine(make))
    except ServiceDown as error:
        body = {"error": "service_down", **asdict(error)}
        _fail(str(error), body, json_output, EXIT_SERVICE_DOWN)
    except (TopicMissing, UnknownChannel, ValueError) as error:
        _fail(str(error), {"error": "bad_request", "detail": str(error)}, json_output, 1)


async def _as_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _fail(message: str, body: dict[str, str], json_output: bool, code: int) -> NoReturn:
    if json_output:
        typer.echo(json.dumps(body))
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _show(
    read: Callable[[Settings], Awaitable[R]], render: Callable[[R], None], json_output: bool
) -> R:
    """One read command: read with the settings, then print the report's JSON or render it."""
    settings = get_settings()
    report = run_reporting_errors(lambda: read(settings), json_output)
    if json_output:
        cli_output.emit_json(json_body(report))
    else:
        render(report)
    return report


def _age(published: Published) -> str:
    age_s = published.age_s()
    if age_s is None:
        return "-"
    if age_s < 60:
        return f"{age_s:.1f}s"
    if age_s < 3600:
        return f"{int(age_s // 60)}m{int(age_s % 60):02d}s"
    return f"{age_s / 3600:.1f}h"


def _units(published: Published) -> str:
    return "-" if published.units is None else str(published.units)


def _version(published: Published) -> str:
    return "-" if published.version is None else published.version.wire()


# --- stock ------------------------------------------------------------------------------


def stock_command(
    sku: Annotated[str, typer.Argument(help="The SKU.")],
    at: Annotated[
        str | None,
        typer.Option(help="As it was at this ISO 8601 time (UTC if naive), rebuilt from the log."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Every location's buckets and every channel's units: ledger vs published (version, age)."""
    if at is not None:
        moment = parse_since(at)
        assert moment is not None
        _show(lambda settings: stock_at(settings, sku, moment), render_stock_at, json_output)
        return
    _show(lambda settings: stock(settings, sku), render_stock, json_output)


def render_stock(report: StockReport) -> None:
    console = cli_output.console()
    clock = "-" if report.clock is None else report.clock.isoformat(timespec="seconds")
    console.print(
        f"[bold]{report.sku}[/]  ledger version {report.version.wire()}  "
        f"last event {clock}  pending holds {report.pending_holds}"
    )
    if not report.known:
        console.print("the ledger has no record of this SKU (no committed event yet)")
    locations = Table(
        "location", "on_hand", "commit", "reserv", "damaged", "inspect", "safety", "avail",
        "incoming", "published", "version", "age", title="locations", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    locations.columns[0].no_wrap = True
    for row in report.locations:
        mark = "" if row.published.units == max(0, row.available) else " [yellow]≠[/]"
        locations.add_row(
            row.location, str(row.on_hand), str(row.committed), str(row.reserved),
            str(row.damaged), str(row.inspection), str(row.safety), str(row.available),
            str(row.incoming), _units(row.published) + mark, _version(row.published),
            _age(row.published),
        )  # fmt: skip
    console.print(locations)
    channels = Table(
        "channel", "ats", "published", "version", "age", title="channels", box=box.SIMPLE_HEAD
    )
    for channel in report.channels:
        mark = "" if channel.published.units == channel.ats else " [yellow]≠[/]"
        channels.add_row(
            channel.channel,
            str(channel.ats),
            _units(channel.published) + mark,
            _version(channel.published),
            _age(channel.published),
        )
    console.print(channels)


def render_stock_at(report: StockAsOf) -> None:
    console = cli_output.console()
    clock = "-" if report.clock is None else report.clock.isoformat(timespec="seconds")
    console.print(
        f"[bold]{report.sku}[/] as of {report.at.isoformat(timespec='seconds')}  ledger version "
        f"{report.version.wire()}  last event {clock}  pending holds {report.pending_holds}  "
        f"({report.records} records replayed)"
    )
    for note in report.notes:
        console.print(f"[yellow]incomplete:[/] {note}" if not report.complete else note)
    if not report.known:
        console.print("the log has no record of this SKU up to then")
    locations = Table(
        "location", "on_hand", "commit", "reserv", "damaged", "inspect", "safety", "avail",
        "incoming", title="locations", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for row in report.locations:
        locations.add_row(
            row.location, str(row.on_hand), str(row.committed), str(row.reserved),
            str(row.damaged), str(row.inspection), str(row.safety), str(row.available),
            str(row.incoming),
        )  # fmt: skip
    console.print(locations)
    channels = Table("channel", "ats", "stranded", title="channels", box=box.SIMPLE_HEAD)
    for channel in report.channels:
        channels.add_row(channel.channel, str(channel.ats), str(channel.stranded_units))
    console.print(channels)
    differing = ", ".join(report.decisions_differing)
    console.print(
        f"decisions: {report.decisions_checked} replayed as the worker recorded them"
        + (f"; [yellow]differing[/]: {differing}" if differing else "")
    )


# --- history ----------------------------------------------------------------------------


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def history_command(
    sku: Annotated[str, typer.Argument(help="The SKU.")],
    since: Annotated[
        str | None, typer.Option(help="Only records at or after this ISO 8601 time (UTC if naive).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=LIMIT_MAX, help="Entries per page.")] = 50,
    page: Annotated[int, typer.Option(min=1, help="1 = the newest entries; 2 = older ...")] = 1,
    json_output: JsonOption = False,
) -> None:
    """The SKU's audit trail: every event, command and decision, with its effect and source."""
    since_time = parse_since(since)
    _show(
        lambda settings: history(settings, sku, since=since_time, limit=limit, page=page),
        render_history,
        json_output,
    )


def render_history(report: HistoryPage) -> None:
    console = cli_output.console()
    table = Table(
        "time (UTC)", "kind", "what", "effect", "source", "ref", "offset", box=box.SIMPLE_HEAD
    )
    for entry in report.entries:
        table.add_row(
            entry.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            entry.kind,
            entry.what,
            entry.effect,
            entry.source,
            entry.ref,
            f"{entry.partition}:{entry.offset}",
        )
    console.print(table)
    older = f"; older: --page {report.page + 1}" if report.page < report.pages else ""
    console.print(
        f"{report.sku}: page {report.page} of {report.pages}, {len(report.entries)} of "
        f"{report.total} entries{older}"
        + (" (scan bound reached: older records not read)" if report.truncated else "")
    )


# --- explain ----------------------------------------------------------------------------


def explain_command(
    channel: Annotated[str, typer.Argument(help="The channel.")],
    sku: Annotated[str, typer.Argument(help="The SKU.")],
    json_output: JsonOption = False,
) -> None:
    """Why CHANNEL shows that number for SKU: locations, buffers, safety stock, holds."""
    _show(lambda settings: explain(settings, channel, sku), render_explanation, json_output)


def render_explanation(report: Explanation) -> None:
    console = cli_output.console()
    console.print(
        f"[bold]{report.channel}[/] / [bold]{report.sku}[/] "
        f"(ledger version {report.ledger_version.wire()})"
    )
    table = Table(
        "location", "on_hand", "- committed", "- reserved", "- unsellable", "- safety",
        "= available", "holds", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for term in report.locations:
        safety = f"{term.safety_applied}" + (
            f" (of {term.safety})" if term.safety_applied != term.safety else ""
        )
        available = f"{term.available}" + (" oversold" if term.oversold else "")
        holds = ", ".join(f"{h.hold_id}:{h.qty} ({h.channel})" for h in term.holds) or "-"
        table.add_row(
            term.location, str(term.on_hand), str(term.committed), str(term.reserved),
            str(term.unsellable), safety, available, holds,
        )  # fmt: skip
    console.print(table)
    raw = report.sum_available - report.buffer
    line = f"sum of available {report.sum_available} - buffer {report.buffer} = {raw}"
    if report.cap is not None and raw > report.cap:
        line += f", capped at {report.cap}"
    if raw < 0:
        line += ", never below 0"
    console.print(f"{line} -> ATS [bold]{report.ats}[/]")
    published = report.published
    console.print(
        f"published: {_units(published)} (version {_version(published)}, "
        f"age {_age(published)}): {report.status} - {report.note}"
    )


# --- top --------------------------------------------------------------------------------


def top_command(
    once: Annotated[bool, typer.Option("--once", help="One snapshot, then exit.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, max=60, help="Seconds between refreshes (rate window).")
    ] = 2.0,
    source: Annotated[
        str,
        typer.Option(help="auto (Prometheus if up, else /metrics), metrics or prometheus."),
    ] = "auto",
    metrics_url: Annotated[
        list[str] | None,
        typer.Option("--metrics-url", help="A worker's /metrics URL (repeatable)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """A live view: events/s, p99 sync latency per channel, lag, holds, oversells, dead letters."""
    if source not in ("auto", "metrics", "prometheus"):
        raise typer.BadParameter("source: auto, metrics or prometheus")
    settings = get_settings()
    urls = metrics_url or default_metrics_urls(settings)

    async def take() -> TopSnapshot:
        use_prometheus = source == "prometheus" or (
            source == "auto" and not metrics_url and await prometheus_up(settings)
        )
        if use_prometheus:
            return await from_prometheus(settings)
        return await from_metrics(urls, interval)

    console = cli_output.console()
    if once:
        snapshot = run_reporting_errors(take, json_output)
        if json_output:
            cli_output.emit_json(json_body(snapshot))
        else:
            console.print(render_top(snapshot))
        return
    try:
        with Live(Text("tally top: first sample ..."), console=console, screen=False) as live:
            while True:
                started = time.monotonic()
                snapshot = run_reporting_errors(take, json_output)
                if json_output:
                    cli_output.emit_json(json_body(snapshot), indent=None)
                else:
                    live.update(render_top(snapshot))
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return


def render_top(snapshot: TopSnapshot) -> Group:
    stamp = datetime.fromtimestamp(snapshot.taken_at, UTC).strftime("%H:%M:%S")
    header = Text(
        f"tally top  {stamp} UTC  source {snapshot.source} ({', '.join(snapshot.where)})  "
        f"window {snapshot.window_s:g}s"
    )
    totals = Table("events/s", "holds accepted/s", "holds rejected/s", "holds expired",
                   "oversells", "dead letters", "dead letters/s", box=box.SIMPLE_HEAD)  # fmt: skip
    expired = "-" if snapshot.holds_expired is None else f"{snapshot.holds_expired:g}"
    totals.add_row(
        f"{snapshot.events_per_s:.1f}",
        f"{snapshot.hold_decisions_per_s.get('accepted', 0.0):.1f}",
        f"{snapshot.hold_decisions_per_s.get('rejected', 0.0):.1f}",
        expired,
        f"{snapshot.oversells:g}",
        f"{snapshot.dead_letters:g}",
        f"{snapshot.dead_letters_per_s:.2f}",
    )
    latency = Table("channel", "p99 sync latency", title="sync latency", box=box.SIMPLE_HEAD)
    for channel, p99 in snapshot.p99_sync_latency_s.items():
        latency.add_row(channel, "- (no syncs)" if p99 is None else f"{p99 * 1000:.1f} ms")
    lag = Table("topic", "consumer lag (messages)", title="lag", box=box.SIMPLE_HEAD)
    for topic, messages in sorted(snapshot.consumer_lag.items()):
        lag.add_row(topic, f"{messages:g}")
    return Group(header, totals, latency, lag)


# --- resync -----------------------------------------------------------------------------


WaitOpenOption = Annotated[
    float,
    typer.Option(
        "--wait-open-s",
        min=0.1,
        max=OPEN_TRANSACTION_WAIT_S_MAX,
        help="How long to wait for a transaction open at the start to end (a killed "
        "worker's ends after Kafka's 60 s transaction timeout).",
    ),
]


def resync_command(
    json_output: JsonOption = False, wait_open_s: WaitOpenOption = OPEN_TRANSACTION_WAIT_S
) -> None:
    """Rebuild Redis from the tables (the positions changelog + policy); safe while workers run.

    Exits with 4 when a partition's open transaction did not end in time (run it again)."""
    console = cli_output.console()

    def progress(message: str) -> None:
        if not json_output:
            console.print(f"resync: {message}")

    report = _show(
        lambda settings: resync(settings, progress, wait_open_s), render_resync, json_output
    )
    if report.unsettled:
        raise typer.Exit(EXIT_INCOMPLETE)


def render_resync(report: ResyncReport) -> None:
    console = cli_output.console()
    console.print(
        f"resync: {report.skus} SKUs from {report.changelog} ({report.partitions} partitions), "
        f"{report.figures} figures: {report.written} written, {report.current} already current"
        + (f", {report.unreadable} unreadable records skipped" if report.unreadable else "")
        + f" in {report.seconds:.2f}s"
    )
    if report.unsettled:
        which = ", ".join(str(partition) for partition in report.unsettled)
        noun = "partition" if len(report.unsettled) == 1 else "partitions"
        console.print(
            f"resync: incomplete: {noun} {which} of {report.changelog} had a transaction open "
            "past the wait; their figures may be older than the log: run `tally resync` again"
        )
