"""`tally kpi [--since T] [--json]`: the KPIs the stream computes (docs/KPIS.md).

One table per KPI section (ops/kpi/sections.py): inventory accuracy per location, oversell
rate per channel, stranded stock with its top SKUs, sync-latency SLO attainment and error
budget; fill rate, split rate and cost per order per channel, pick-rejection rate per
location. Exit codes as the other read commands (ops/cli_ledger.py).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from base.settings import get_settings
from connectors.inspect.top import default_metrics_urls
from ops import cli_output
from ops.cli_ledger import JsonOption, parse_since, run_reporting_errors
from ops.inspect.json_body import json_body
from ops.kpi.read import order_processor_url
from ops.kpi.report import KpiReport, kpi
from ops.kpi.sections import SECTIONS


def kpi_command(
    since: Annotated[
        str | None,
        typer.Option(help="KPIs over [SINCE, now] (ISO 8601, UTC if naive); needs Prometheus."),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            help="auto (Prometheus if up or --since, else /metrics), metrics or prometheus."
        ),
    ] = "auto",
    metrics_url: Annotated[
        list[str] | None,
        typer.Option(
            "--metrics-url",
            help="A worker's or the order processor's /metrics URL (repeatable); default: "
            "the local worker's, and the order processor's when it answers.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Inventory accuracy, oversell rate, stranded stock, the sync SLO and the order KPIs."""
    if source not in ("auto", "metrics", "prometheus"):
        raise typer.BadParameter("source: auto, metrics or prometheus")
    settings = get_settings()
    since_time = parse_since(since)
    urls = metrics_url or default_metrics_urls(settings)
    optional = [] if metrics_url else [order_processor_url(settings)]
    report = run_reporting_errors(
        lambda: kpi(settings, since_time, source, urls, optional), json_output
    )
    if json_output:
        cli_output.emit_json(json_body(report))
        return
    render_kpi(report)


def render_kpi(report: KpiReport) -> None:
    console = cli_output.console()
    if report.since is not None:
        span = f"since {report.since.isoformat(timespec='seconds')}"
    elif report.window_s is None:
        span = "since the workers started"
    elif report.source == "metrics":
        span = f"since the workers started ({report.window_s / 3600:.1f} h)"
    else:
        span = f"over the last {report.window_s / 3600:g} h"
    console.print(f"tally kpi  {span}  source {report.source} ({', '.join(report.where)})")
    for section in SECTIONS:
        table = Table(*section.columns, title=section.title, box=box.SIMPLE_HEAD)
        for row in report.sections[section.name]:
            table.add_row(*section.cells(row))
        if not report.sections[section.name]:
            table.add_row("(nothing counted yet)", *[""] * (len(section.columns) - 1))
        console.print(table)
