"""`python -m devtools.sim`: batch sync against Tally on one seeded demand trace.

    python -m devtools.sim [--seed 7] [--seeds 5] [--hours 24] [--skus 300]
                           [--intervals 1,5,15,30] [--stack | --no-stack --latency-ms 100]

With `--stack` (the default) the first seed's facts go through a real worker on the local
stack (`TALLY_STACK__HOME`; started if down) to measure the sync latency Tally's point uses
and to check the model's ledger accounting against the worker's counters. Writes
`sim.json` and `sim.png` to `--out` (devtools/sim/results) and prints the table.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from base.settings import get_settings
from devtools.bench.env import git_commit, machine, now_iso
from devtools.bench.stats import percentiles
from devtools.sim import stack
from devtools.sim.model import Streaming, replay
from devtools.sim.points import facts_differing, policies, run_points
from devtools.sim.report import RESULTS_DIR, markdown_table, plot, point_json
from devtools.sim.trace import SimConfig, generate
from ops.stack import ensure_up

app = typer.Typer(add_completion=False)


def _stack_part(config: SimConfig, rate: float) -> tuple[dict[str, Any], list[float]]:
    """Send the first seed's facts through a real worker; its latencies (s) and the report."""
    settings = get_settings()
    ensure_up(settings, echo=lambda line: typer.echo(f"sim: {line}"))
    sent = replay(generate(config), Streaming((0.0,)))
    with tempfile.TemporaryDirectory(prefix="tally-sim-") as work_dir:
        run = stack.run(settings, sent.facts, rate, Path(work_dir))
    latencies_s = [ms / 1000 for ms in run.latencies_ms]
    measured = replay(generate(config), Streaming(tuple(latencies_s)))
    report = {
        "facts": run.facts,
        "rate_per_s": run.rate_per_s,
        "produce_s": run.produce_s,
        "drain_s": run.drain_s,
        "latency_ms": percentiles(run.latencies_ms),
        "worker_counters_match_the_model": not run.differences,
        "differences": run.differences,
        "expected_counters": run.expected,
        # The facts the measured-latency run logged against those sent to the worker.
        "facts_differing_at_measured_latency": facts_differing(sent.facts, measured.facts),
    }
    return report, latencies_s


@app.command()
def main(
    seed: Annotated[int, typer.Option(help="The first seed (the stack runs this one).")] = 7,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds, from --seed up.")] = 5,
    hours: Annotated[float, typer.Option(min=1, help="Virtual hours of demand.")] = 24.0,
    skus: Annotated[int, typer.Option(min=10, help="SKUs (Zipf popular).")] = 300,
    intervals: Annotated[str, typer.Option(help="Batch sync intervals, minutes.")] = "1,5,15,30",
    use_stack: Annotated[
        bool, typer.Option("--stack/--no-stack", help="Measure Tally on the real stack.")
    ] = True,
    rate: Annotated[float, typer.Option(help="Facts/s sent to the real worker.")] = 300.0,
    latency_ms: Annotated[
        float, typer.Option(help="With --no-stack: Tally's sync latency, assumed.")
    ] = 100.0,
    out: Annotated[Path, typer.Option(help="Where sim.json and sim.png go.")] = RESULTS_DIR,
) -> None:
    """Replay one seeded demand trace under batch sync and Tally; write the report."""
    logging.basicConfig(level=logging.WARNING)
    started, load_before = time.monotonic(), os.getloadavg()
    config = SimConfig(seed=seed, hours=hours, skus=skus)
    stack_report: dict[str, Any] | None = None
    latencies_s = [latency_ms / 1000]
    if use_stack:
        stack_report, latencies_s = _stack_part(config, rate)
    chosen = policies([float(m) for m in intervals.split(",")], latencies_s)
    points = run_points(config, range(seed, seed + seeds), chosen)
    result = {
        "command": shlex.join(["python", "-m", "devtools.sim", *sys.argv[1:]]),
        "date": now_iso(),
        "commit": git_commit(),
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "elapsed_s": round(time.monotonic() - started, 1),
        "config": {**config.__dict__, "seeds": list(range(seed, seed + seeds))},
        "tally_latency": "measured on the stack" if use_stack else f"assumed {latency_ms:g} ms",
        "stack": stack_report,
        "points": [point_json(point) for point in points],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "sim.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    plot(result, out / "sim.png")
    typer.echo(markdown_table(result))
    if stack_report is not None:
        typer.echo(f"stack: {stack_report['facts']} facts, sync latency ms "
                   f"{stack_report['latency_ms']}, worker counters match the model: "
                   f"{stack_report['worker_counters_match_the_model']}")  # fmt: skip
    typer.echo(f"wrote {out / 'sim.json'} and {out / 'sim.png'}")


if __name__ == "__main__":
    app()
