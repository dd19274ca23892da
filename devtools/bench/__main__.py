"""`python -m devtools.bench --mode full|smoke`: the Tally benchmark harness, all stages in one run.

    .venv/bin/python -m devtools.bench --mode full            # minutes; writes results + docs
    .venv/bin/python -m devtools.bench --mode smoke --out-dir /tmp/b   # seconds, tiny load

Stages (`--stages`, default all): throughput (full pipeline with exactly_once and
at_least_once vs the raw floor), latency (sync latency at a trickle and at shares of the
measured maximum vs Kafka's own produce->consume), holds (hot-SKU holds vs PostgreSQL),
recovery (changelog restore, warm restart, restart after a kill -9), scale (one worker vs
two). Runs on the local stack (Kafka + Redis) with topics, app ids, channels and locations of
its own, and removes them at the end (`--keep` not). `--worker-tree` runs the worker from
another checkout, for the before side of a before/after (alternate the runs: the machine is
shared).
Writes bench.json (raw numbers, command, machine, date, commit) and latency.png to
`--out-dir`; `--doc PATH` also renders the Markdown report there.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from base.settings import REPO_ROOT, Settings, get_settings
from devtools.bench import report, restart, scale, stages
from devtools.bench.config import PRESETS, STAGES, BenchConfig
from devtools.bench.env import (
    Namespace,
    delete_run_topics,
    git_commit,
    load_average,
    machine,
    now_iso,
    reset_redis,
)
from devtools.bench.gen import sku_names

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"


def _echo(text: str) -> None:
    sys.stdout.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stdout.flush()


def parse(argv: Sequence[str] | None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__)
    parser.add_argument("--mode", choices=sorted(PRESETS), default="smoke")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--stages", nargs="+", choices=STAGES)
    parser.add_argument("--skus", type=int)
    parser.add_argument("--locations", type=int)
    parser.add_argument("--events", type=int, help="records preloaded for the drain stages")
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--level-duration-s", type=float)
    parser.add_argument("--load-levels", type=float, nargs="+")
    parser.add_argument(
        "--rate-basis",
        type=float,
        help="records/s the load levels are shares of (default: this run's exactly_once drain)",
    )
    parser.add_argument("--recovery-records", type=int)
    parser.add_argument("--crash-records", type=int)
    parser.add_argument("--hold-clients", type=int)
    parser.add_argument("--hold-stock-units", type=int)
    parser.add_argument("--holds-timeout-s", type=float)
    parser.add_argument("--drain-timeout-s", type=float)
    parser.add_argument(
        "--progress-poll-s", type=float, help="how often a drain reads the worker's /metrics"
    )
    parser.add_argument("--worker-module", help="worker module to run (default processors.worker)")
    parser.add_argument(
        "--worker-tree",
        help="run the worker from this checkout (a before run); it keeps its own defaults, "
        "and gets only the settings this run changes",
    )
    parser.add_argument("--trickle-rate", type=float)
    parser.add_argument("--flame-s", type=float, help="py-spy SVG of the worker at 50%% load")
    parser.add_argument("--scale-records", type=int)
    parser.add_argument("--profile-s", type=float, help="py-spy the draining workers this long")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--doc", type=Path, help="also write the Markdown report here")
    parser.add_argument("--before", type=Path, help="a before run's JSON, compared in the doc")
    parser.add_argument("--keep", action="store_true", help="keep topics/keys/dirs for a look")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        k: v for k, v in vars(args).items() if k not in ("mode", "out_dir", "doc", "keep", "before")
    }
    for name in ("stages", "load_levels"):
        if overrides.get(name) is not None:
            overrides[name] = tuple(overrides[name])
    if overrides.get("stages") and "latency" in overrides["stages"]:
        overrides["stages"] = tuple(s for s in STAGES if s in {*overrides["stages"], "throughput"})
    return PRESETS[args.mode].with_overrides(overrides), args


async def run(
    config: BenchConfig,
    base: Settings,
    work_dir: Path,
    namespace: Namespace,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    ctx = stages.Context(config, base, namespace, work_dir, _echo, out_dir)
    ctx.skus = sku_names(namespace.prefix, config.skus)
    started = time.monotonic()
    load_before = load_average()
    _echo(f"bench {config.mode}: run {namespace.run_id}, stages {', '.join(config.stages)}")
    try:
        for name, stage in (
            ("throughput", stages.throughput),
            ("latency", stages.latency),
            ("holds", stages.hot_holds),
        ):
            if name in config.stages:
                ctx.results[name] = await stage(ctx)
        if ctx.worker is not None:
            ctx.worker.stop()
            ctx.worker = None
        if "recovery" in config.stages:
            ctx.results["recovery"] = await stages.recovery(ctx)
            ctx.results["recovery"]["crash_restart"] = await restart.crash_restart(ctx)
        if "scale" in config.stages:
            ctx.results["scale"] = await scale.scale(ctx)
    finally:
        if ctx.worker is not None:
            ctx.worker.stop()
    ctx.results["_elapsed_s"] = round(time.monotonic() - started, 1)
    ctx.results["_load"] = {"before": load_before, "after": load_average()}
    return ctx.results


def assemble(config: BenchConfig, results: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    load = results.pop("_load")
    command = ".venv/bin/python -m devtools.bench " + " ".join(shlex.quote(a) for a in argv)
    out: dict[str, Any] = {
        "command": command.strip(),
        "mode": config.mode,
        "seed": config.seed,
        "date": now_iso(),
        "commit": git_commit(),
        # the worker's own checkout when it ran from another one (a before run)
        "worker_commit": git_commit(Path(config.worker_tree)) if config.worker_tree else None,
        "machine": machine(),
        "load_average": {
            "before": [round(x, 2) for x in load["before"]],
            "after": [round(x, 2) for x in load["after"]],
        },
        "elapsed_s": results.pop("_elapsed_s"),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()},
        **results,
    }
    out["targets"] = report.targets(out)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args_list = list(sys.argv[1:] if argv is None else argv)
    config, args = parse(args_list)
    base = get_settings()
    work_dir = Path(tempfile.mkdtemp(prefix="tally-bench-"))
    namespace = Namespace.new(config.locations)
    try:
        results = asyncio.run(run(config, base, work_dir, namespace, args.out_dir))
    finally:
        if not args.keep:
            stages.cleanup_dir(work_dir)
            asyncio.run(reset_redis(base, namespace))
            deleted = asyncio.run(delete_run_topics(base, namespace))
            _echo(f"cleanup: {len(deleted)} topics and the run's Redis keys removed")
    out = assemble(config, results, args_list)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / ("bench.json" if config.mode == "full" else "bench-smoke.json")
    json_path.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")
    png_path = args.out_dir / ("latency.png" if config.mode == "full" else "latency-smoke.png")
    if "latency" in out:
        report.plot(out, png_path)
    if args.doc is not None:
        before = orjson.loads(args.before.read_bytes()) if args.before else None
        args.doc.write_text(report.markdown(out, json_path, png_path, before))
    _echo(f"bench: {json_path}" + (f", {args.doc}" if args.doc else ""))
    for target in out["targets"]:
        _echo(f"target {'MET ' if target['met'] else 'MISS'} {target['name']}: {target['value']}")
    return out


if __name__ == "__main__":
    main()
