"""The worker's per-batch CPU with no Kafka, Redis or Faust: its batch core, per record.

    .venv/bin/python -m devtools.bench.batch_cpu [--sizes 25 100 1000] [--against TREE]

Runs the bench's own record mix (devtools/bench/gen.py: Zipf-popular SKUs over the bench's
three channels and six locations, facts and reserve + commit pairs) through what the worker
does in Python for a batch besides I/O: `processors.batch.process_batch` (decode, fold,
decide, changed figures), `base.table_layout.state_writes` for each changed SKU, and the
stranded-stock figures (`ledger.availability.stranded_by_channel`). States are kept between
batches as the worker's state cache keeps them, after a warm-up that gives the SKUs theirs.
Reported per batch size: CPU time (process time, best of `--repeats`) per record and per
changed SKU, and changed SKUs per record.

The live worker's CPU per record at the same load (the bench's latency stage) minus these
figures is what Kafka, Redis, Faust and the event loop cost.

`--against TREE` measures another checkout of the code in the same run, alternating with
this one (each in its own process, that tree first on the path), and reports the ratios.
Writes the figures to devtools/bench/results/batch_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "devtools" / "bench" / "results" / "batch_cpu.json"
COMMAND = ".venv/bin/python -m devtools.bench.batch_cpu"
PARTITIONS = 4  # the bench's
LOCATIONS = 6


def measure(sizes: Sequence[int], records: int, warmup: int, repeats: int) -> dict[str, Any]:
    """{size: figures} for the code first on the path (imported here, not at the top, so a
    child process measures its own tree)."""
    from base.table_layout import state_writes
    from base.topics import partition_for
    from devtools.bench.env import Namespace
    from devtools.bench.gen import Workload, sku_names, stamp
    from devtools.bench.stages import _policy_records
    from ledger.availability import stranded_by_channel
    from ledger.codec import decode_policy
    from ledger.policy import PolicyBook, apply_policy
    from ledger.state import SkuState
    from processors.batch import RawMessage, process_batch

    names = Namespace.new(LOCATIONS)
    book = PolicyBook()
    for _topic, _key, raw in _policy_records(names):
        book = apply_policy(book, decode_policy(raw))
    channel = next(iter(names.channels))
    workload = Workload(7, sku_names(names.prefix, 10_000), names.locations, channel, 0.1)
    states: dict[str, SkuState] = {}
    offset = 0

    def messages(count: int) -> list[Any]:
        nonlocal offset
        out = []
        for item in workload.items(count):
            offset += 1
            partition = partition_for(item.key.decode(), PARTITIONS)
            out.append(RawMessage(item.kind, "t", partition, offset, item.key, stamp(item), 0))
        return out

    def load(sku: str, partition: int) -> SkuState:
        return states.get(sku) or SkuState.empty(sku)

    def run(batch: list[Any]) -> int:
        outcome = process_batch(batch, load, book, 1, partitions=PARTITIONS)
        for sku, state in outcome.states.items():
            state_writes(state, outcome.stored.get(sku))
            stranded_by_channel(state, book)
            states[sku] = state
        return len(outcome.states)

    run(messages(warmup))
    figures: dict[str, Any] = {}
    for size in sizes:
        best, changed = float("inf"), 0
        for _ in range(repeats):
            batches = [messages(size) for _ in range(max(1, records // size))]
            started = time.process_time()
            changed = sum(run(batch) for batch in batches)
            best = min(best, time.process_time() - started)
        count = len(batches) * size
        figures[str(size)] = {
            "us_per_record": round(best / count * 1e6, 1),
            "us_per_changed_sku": round(best / max(changed, 1) * 1e6, 1),
            "changed_skus_per_record": round(changed / count, 3),
        }
    return figures


def _in_process(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """This file's measurement run with `tree` first on the path."""
    command = [sys.executable, __file__, "--child", "--records", str(args.records)]
    command += ["--warmup", str(args.warmup), "--repeats", str(args.repeats), "--sizes"]
    command += [str(size) for size in args.sizes]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _compare(args: argparse.Namespace) -> dict[str, Any]:
    """Best per side over `--rounds` alternating rounds, and after / before per size."""
    sides: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for side, tree in (("after", REPO), ("before", args.against.resolve())):
            for size, row in _in_process(tree, args).items():
                kept = sides[side].get(size)
                if kept is None or row["us_per_record"] < kept["us_per_record"]:
                    sides[side][size] = row
    ratios = {
        size: round(after["us_per_record"] / sides["before"][size]["us_per_record"], 3)
        for size, after in sides["after"].items()
    }
    return {**sides, "after_over_before_us_per_record": ratios}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 1000])
    parser.add_argument("--records", type=int, default=20_000, help="per size and repeat")
    parser.add_argument("--warmup", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --against")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (args.records > 0 and args.warmup >= 0 and args.repeats > 0 and args.rounds > 0):
        parser.error("--records, --repeats and --rounds must be > 0, --warmup >= 0")
    if min(args.sizes) < 1:
        parser.error("--sizes must be >= 1")
    if args.child:
        figures = measure(args.sizes, args.records, args.warmup, args.repeats)
        sys.stdout.write(json.dumps(figures) + "\n")
        return figures
    result: dict[str, Any] = {"command": " ".join([COMMAND, *(argv or sys.argv[1:])])}
    result["args"] = {k: str(v) for k, v in vars(args).items() if k not in ("out", "child")}
    if args.against is None:
        result["figures"] = measure(args.sizes, args.records, args.warmup, args.repeats)
    else:
        result |= _compare(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
