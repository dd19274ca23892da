"""`tally explain-order` and `tally sourcing simulate`: why an order went where it went, and
what other rules would have done with last week's orders."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.table import Table

from base.settings import get_settings
from ledger.orders.simulate import SimulationReport, Totals, simulate
from ledger.sourcing import RuleName
from ops import cli_output
from ops.cli_ledger import JsonOption, run_reporting_errors
from ops.inspect.orders import order_view, past_orders

sourcing_app = typer.Typer(help="Sourcing rules: try a rule change on past orders.")
_RULES: TypeAdapter[tuple[RuleName, ...] | dict[str, tuple[RuleName, ...]]] = TypeAdapter(
    tuple[RuleName, ...] | dict[str, tuple[RuleName, ...]]
)


def explain_order_command(
    order_id: Annotated[str, typer.Argument(help="The channel's order id.")],
    channel: Annotated[str, typer.Option(help="The channel that placed it.")],
    json_output: JsonOption = False,
) -> None:
    """An order's shipments, rejections, and each plan's ranking rule by rule."""
    settings = get_settings()
    view = run_reporting_errors(lambda: order_view(settings, channel, order_id), json_output)
    if json_output:
        cli_output.emit_json(view)
        return
    render_order(view)


def render_order(view: dict[str, Any]) -> None:
    console = cli_output.console()
    console.print(
        f"[bold]order {view['order_id']}[/] ({view['channel']})  ref {view['ref']}  "
        f"status [bold]{view['status']}[/]  placed {view['placed_at']}  version {view['version']}"
    )
    lines = ", ".join(f"{line['sku']} x{line['qty']}" for line in view["lines"])
    console.print(f"  lines: {lines}")
    shipments = Table("location", "status", "lines", box=None, pad_edge=False)
    for shipment in view["shipments"]:
        shipped = ", ".join(f"{li['sku']} x{li['qty']}" for li in shipment["lines"])
        shipments.add_row(shipment["location"], shipment["status"], shipped)
    console.print(shipments)
    for rejection in view["rejections"]:
        console.print(
            f"  pick rejected at {rejection['location']}: {rejection['reason']} ({rejection['at']})"
        )
    if view["unfilled"]:
        unfilled = ", ".join(f"{li['sku']} x{li['qty']}" for li in view["unfilled"])
        console.print(f"  unfilled: {unfilled}")
    for plan in view["plans"]:
        _render_plan(console, plan)


def _render_plan(console: Any, plan: dict[str, Any]) -> None:
    chosen = " + ".join(plan["locations"]) or "(nothing could be planned)"
    console.print(
        f"plan {plan['plan_seq']} at {plan['at']}: {plan['candidates_considered']} candidates"
        f"{' (search bounded)' if plan['truncated'] else ''} -> [bold]{chosen}[/]"
    )
    table = Table("rule", "seen", "kept", "ranking (best first)", box=None, pad_edge=False)
    for ranking in plan["rankings"]:
        ranked = ", ".join(
            f"{'+'.join(r['locations'])}: {_score(r['score'])}" for r in ranking["ranked"]
        )
        table.add_row(ranking["rule"], str(ranking["seen"]), str(ranking["kept"]), ranked)
    console.print(table)


def _score(score: Any) -> str:
    if isinstance(score, list):
        return "(" + ", ".join(str(s) for s in score) + ")"
    return str(score)


@sourcing_app.command("simulate")
def simulate_command(
    rules: Annotated[Path, typer.Option(help="YAML/JSON: a rule list, or channel -> rule list.")],
    since: Annotated[datetime, typer.Option(help="Orders placed at or after (ISO time, UTC).")],
    top: Annotated[int, typer.Option(min=0, max=1_000, help="Changed orders to list.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Re-plan the orders placed since SINCE under RULES, against the stock each one saw."""
    try:
        wanted = _RULES.validate_python(yaml.safe_load(rules.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        typer.echo(f"error: --rules {rules}: {error}", err=True)
        raise typer.Exit(1) from error
    settings = get_settings()
    moment = since if since.tzinfo else since.astimezone()
    orders, book = run_reporting_errors(lambda: past_orders(settings, moment), json_output)
    report = simulate(orders, book, wanted)
    if json_output:
        cli_output.emit_json(asdict(report))
        return
    render_simulation(report, top)


def render_simulation(report: SimulationReport, top: int) -> None:
    console = cli_output.console()
    table = Table("", "happened", "simulated", box=None, pad_edge=False)
    for label, field in (
        ("orders", "orders"),
        ("shipments", "shipments"),
        ("split orders", "split_orders"),
        ("unfilled orders", "unfilled_orders"),
        ("distance (km)", "km"),
        ("cost (cents)", "cost_cents"),
    ):
        table.add_row(label, _total(report.happened, field), _total(report.simulated, field))
    console.print(table)
    console.print(f"{report.changed} of {report.happened.orders} orders would go elsewhere")
    changed = [c for c in report.orders if c.changed][:top]
    if changed:
        rows = Table("order", "channel", "happened", "simulated", "km", "cost", box=None)
        for c in changed:
            rows.add_row(
                c.order_id,
                c.channel,
                "+".join(c.happened.locations),
                "+".join(c.simulated.locations) or "-",
                f"{c.happened.km:,.0f} -> {c.simulated.km:,.0f}",
                f"{c.happened.cost_cents:,} -> {c.simulated.cost_cents:,}",
            )
        console.print(rows)


def _total(totals: Totals, field: str) -> str:
    value = getattr(totals, field)
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
