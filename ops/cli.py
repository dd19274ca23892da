"""The `tally` command line: one plain typer app, one function per command."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from base.settings import get_settings
from connectors.auth import keys_app
from connectors.bulk_import import import_command
from connectors.edi.cli import edi_app
from connectors.pushers.cli import push_app
from ops import cli_cluster, cli_ledger, cli_orders, cli_output, cli_policy
from ops.cli_kpi import kpi_command
from ops.stack import ServiceStatus, StackError, ensure_up
from ops.stack import down as stack_down
from ops.stack import status as stack_status
from ops.stack.kafka import recorded_brokers

app = typer.Typer(help="Tally: the real-time inventory ledger.", no_args_is_help=True)


def _echo(message: str) -> None:
    typer.echo(message)


def _quiet_clients() -> None:
    # Readiness probes retry while a broker starts; the clients' connection errors are noise.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


@contextmanager
def _stack_errors() -> Iterator[None]:
    """A StackError (a port taken, a service that did not start) is exit 1 with its message."""
    try:
        yield
    except StackError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


@app.command()
def up(
    with_prometheus: Annotated[
        bool, typer.Option("--with-prometheus", help="Also run Prometheus.")
    ] = False,
    brokers: Annotated[
        int | None,
        typer.Option(
            "--brokers",
            min=1,
            max=9,
            help="Kafka brokers: 3 starts a KRaft cluster on loopback ports "
            "(default: TALLY_KAFKA__BROKERS, 1).",
        ),
    ] = None,
) -> None:
    """Start the local stack (Kafka in KRaft mode, Redis; Prometheus on request)."""
    _quiet_clients()
    settings = get_settings()
    if brokers is None and "brokers" not in settings.kafka.model_fields_set:
        brokers = recorded_brokers(settings.stack.home)  # the size this home was made with
    if brokers is not None:
        kafka = settings.kafka.model_copy(update={"brokers": brokers})
        settings = settings.model_copy(update={"kafka": kafka})
    with _stack_errors():
        result = ensure_up(settings, prometheus=with_prometheus, echo=_echo)
    if result.started:
        typer.echo(f"up: started {', '.join(result.started)}")
    else:
        typer.echo("up: everything was already running; nothing to do")
    if settings.kafka.brokers > 1:
        cli_cluster.announce(settings, _echo)
    else:
        typer.echo(
            "up: one broker, one copy of every topic (a dev stack; "
            "`tally up --brokers 3` runs a cluster)"
        )


@app.command()
def down(
    wipe: Annotated[
        bool, typer.Option("--wipe", help="Also delete Kafka, Redis and Prometheus data.")
    ] = False,
) -> None:
    """Stop the local stack (SIGTERM, then SIGKILL after settings.stack.stop_timeout_s)."""
    with _stack_errors():
        stopped = stack_down(get_settings(), wipe=wipe, echo=_echo)
    typer.echo(f"down: stopped {', '.join(stopped)}" if stopped else "down: nothing was running")


@app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each service: running or stopped, pid, ports, ready."""
    _quiet_clients()
    report = stack_status(get_settings())
    if json_output:
        cli_output.emit_json([asdict(service) for service in report])
        return
    render_status(report)


def render_status(report: list[ServiceStatus]) -> None:
    table = Table("service", "state", "pid", "ports", "ready", "log")
    for service in report:
        table.add_row(
            service.name,
            "running" if service.running else "stopped",
            str(service.pid or "-"),
            ",".join(str(port) for port in service.ports),
            "yes" if service.ready else "no",
            service.log_file,
        )
    cli_output.console().print(table)


# stock, history, explain, top and resync live in ops/cli_ledger.py; kpi in ops/cli_kpi.py.
cli_ledger.register(app)
app.command("kpi")(kpi_command)  # tally kpi [--since T] [--json]

# The edges: API keys, bulk import and channel pushers live with their connectors.
app.add_typer(keys_app, name="keys")  # tally keys add --role ... | list | remove KEY_ID
app.command("import")(import_command)  # tally import FILE [--format jsonl|csv] [--restart]
# tally push --channel NAME --pusher shopify|webhook|amazon | redrive | enable
app.add_typer(push_app, name="push")

app.add_typer(edi_app, name="edi")  # tally edi receive FILE | advise | ack FILE --partner P

# Orders and policy (ops/cli_orders.py, ops/cli_policy.py):
# tally explain-order ID --channel C | sourcing simulate --rules F --since T |
# policy location set L ... | policy show
app.command("explain-order")(cli_orders.explain_order_command)
app.add_typer(cli_orders.sourcing_app, name="sourcing")
app.add_typer(cli_policy.policy_app, name="policy")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def demo(ctx: typer.Context) -> None:
    """Run Tally live: stack up, one worker, a demo feed (`--help` for its options)."""
    # The demo feed is developer tooling (devtools/), which no product module imports: the
    # command hands the process over to it, options and all.
    argv = [sys.executable, "-m", "devtools.demo", *ctx.args]
    os.execv(sys.executable, argv)
