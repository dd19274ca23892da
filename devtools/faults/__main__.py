"""`python -m devtools.faults --seeds N [--start S] [--size small|full] [--brokers 1|3]
[--kinds net_drop,kill9] [--static-members] [--report PATH]`.

Brings up (or reuses) the fault stack: its own stack home and ports, never the shared one,
one broker or a cluster; stops it at the end (`--keep-stack` leaves it running). Prints one
line per seed and writes a JSON report; exits 1 when any seed did not converge.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from base.settings import Settings, get_settings
from devtools.faults.plan import FAULT_KINDS, SIZES, FaultKind
from devtools.faults.run import INTERRUPTED, SeedReport, run_seed
from devtools.faults.stack import DEFAULT_PORTS, fault_stack_settings, up
from ops.stack import down

app = typer.Typer(add_completion=False)
STATIC_ID_PREFIX = "fault-worker"  # `--static-members`: worker i joins as fault-worker-i


def summary(reports: list[SeedReport], command: str) -> dict[str, object]:
    faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
    for report in reports:
        for kind, count in report.faults.items():
            faults[kind] += count
    return {
        "command": command,
        "seeds_run": len(reports),
        "seeds_ok": sum(r.ok for r in reports),
        "seeds_diverged": sum(bool(r.divergences) for r in reports),
        "seeds_errored": sum(r.error is not None for r in reports),
        "faults_injected": faults,
        "faults_total": sum(faults.values()),
        "facts_sent": sum(r.facts_sent for r in reports),
        "commands_sent": sum(r.commands_sent for r in reports),
        "facts_over_http": sum(r.facts_over_http for r in reports),
        "commands_over_http": sum(r.commands_over_http for r in reports),
        "answers_checked": sum(r.answers_checked for r in reports),
        "decisions_checked": sum(r.decisions_in_log for r in reports),
        "unexpected_exits": sum(len(r.unexpected_exits) for r in reports),
        "seconds": round(sum(r.seconds for r in reports), 1),
        "seeds": [asdict(r) for r in reports],
    }


@app.command()
def main(
    seeds: Annotated[int, typer.Option(help="How many seeds to run.")] = 50,
    start: Annotated[int, typer.Option(help="The first seed.")] = 0,
    size: Annotated[str, typer.Option(help="small | full")] = "full",
    report: Annotated[Path, typer.Option(help="JSON report path.")] = Path(
        "/tmp/tally-faults/report.json"
    ),
    home: Annotated[Path, typer.Option(help="The fault stack's home.")] = Path(
        "/tmp/tally-faults/home"
    ),
    kafka_port: Annotated[int, typer.Option()] = DEFAULT_PORTS["kafka"],
    controller_port: Annotated[int, typer.Option()] = DEFAULT_PORTS["controller"],
    redis_port: Annotated[int, typer.Option()] = DEFAULT_PORTS["redis"],
    brokers: Annotated[int, typer.Option(help="1, or 3: a KRaft cluster.", min=1, max=9)] = 1,
    kinds: Annotated[
        str,
        typer.Option(help="Draw only these fault kinds (comma-separated); default: all."),
    ] = ",".join(FAULT_KINDS),
    keep_stack: Annotated[
        bool, typer.Option("--keep-stack", help="Leave the fault stack running at the end.")
    ] = False,
    static_members: Annotated[
        bool,
        typer.Option(
            "--static-members",
            help="Workers join as static group members (a group instance id each, kept "
            "across their restarts); default: dynamic members, as Tally's default.",
        ),
    ] = False,
) -> None:
    """Run seeds start .. start+seeds-1 and compare each with both judges."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    if size not in SIZES:
        raise typer.BadParameter("small or full", param_hint="--size")
    drawn = parse_kinds(kinds)
    stack = fault_stack_settings(
        get_settings(), home, kafka_port, controller_port, redis_port, brokers=brokers
    )
    if static_members:
        worker = stack.worker.model_copy(update={"group_instance_id": STATIC_ID_PREFIX})
        stack = stack.model_copy(update={"worker": worker})
    up(stack, typer.echo)
    command = f"python -m devtools.faults --seeds {seeds} --start {start} --size {size}"
    if brokers > 1:
        command += f" --brokers {brokers}"
    if static_members:
        command += " --static-members"
    if drawn != FAULT_KINDS:
        command += f" --kinds {','.join(drawn)}"
    try:
        reports = run_seeds(range(start, start + seeds), size, stack, report, command, drawn)
    finally:
        if not keep_stack:  # the stack is the runner's own: stop it (its data stays)
            down(stack)
    total = summary(reports, command)
    typer.echo(
        f"seeds {total['seeds_run']}, ok {total['seeds_ok']}, diverged {total['seeds_diverged']},"
        f" errored {total['seeds_errored']}, faults {total['faults_injected']}; report: {report}"
    )
    raise typer.Exit(0 if total["seeds_ok"] == total["seeds_run"] else 1)


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    """`net_drop,kill9` as fault kinds, in the plan's order; a clear error for a bad name."""
    named = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(named - set(FAULT_KINDS))
    if unknown or not named:
        raise typer.BadParameter(
            f"unknown {unknown}; choose from {', '.join(FAULT_KINDS)}", param_hint="--kinds"
        )
    return tuple(kind for kind in FAULT_KINDS if kind in named)


def run_seeds(
    seeds: range,
    size: str,
    stack: Settings,
    report: Path,
    command: str,
    kinds: tuple[FaultKind, ...] = FAULT_KINDS,
) -> list[SeedReport]:
    """One line per seed; the JSON report rewritten after each."""
    reports: list[SeedReport] = []
    runs = stack.stack.home.parent / "runs"
    for seed in seeds:
        workdir = runs / f"seed-{seed}-{int(time.time())}"
        reports.append(run_seed(seed, SIZES[size], stack, workdir, kinds))
        typer.echo(reports[-1].line())
        for divergence in reports[-1].divergences[:10]:
            typer.echo(f"    {divergence}")
        if reports[-1].error:
            typer.echo(f"    error: {reports[-1].error[:2_000]}")
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary(reports, command), indent=2) + "\n")
        if reports[-1].error == INTERRUPTED:
            break
    return reports


if __name__ == "__main__":
    app()
