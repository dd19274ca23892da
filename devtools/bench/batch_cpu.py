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
`--hot-sku` measures instead the holds stage's pattern on one SKU: `--hot-rounds` rounds of
`--clients` reserves, then their commits, each one batch (as the live stage batches them), after
a warm-up that fills the SKU's journals to their bounds; per command, with the commits
named by no channel (an admin's, as the holds stage sends them) and by the hold's channel
(as the gateway sends a channel's).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "devtools" / "bench" / "results" / "batch_cpu.json"
COMMAND = ".venv/bin/python -m devtools.bench.batch_cpu"
PARTITIONS = 4  # the bench's
LOCATIONS = 6


def _bench_policies() -> tuple[Any, Any]:
    """The bench's locations and channels (a fresh namespace) and their policy book, as the
    bench's workers fold them (imported here, as in `measure`)."""
    from devtools.bench.env import Namespace
    from devtools.bench.stages import _policy_records
    from ledger.codec import decode_policy
    from ledger.policy import PolicyBook, apply_policy

    names = Namespace.new(LOCATIONS)
    book = PolicyBook()
    for _topic, _key, raw in _policy_records(names):
        book = apply_policy(book, decode_policy(raw))
    return names, book


def measure(sizes: Sequence[int], records: int, warmup: int, repeats: int) -> dict[str, Any]:
    """{size: figures} for the code first on the path (imported here, not at the top, so a
    child process measures its own tree)."""
    from base.table_layout import state_writes
    from base.topics import partition_for
    from devtools.bench.gen import Workload, sku_names, stamp
    from ledger.availability import stranded_by_channel
    from ledger.state import SkuState
    from processors.batch import RawMessage, process_batch

    names, book = _bench_policies()
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


def measure_hot(clients: int, rounds: int, repeats: int) -> dict[str, Any]:
    """{commits named by: figures} for one hot SKU's hold rounds."""
    return {
        "admin": _HotSku(clients, commit_channel=False).measure(rounds, repeats),
        "channel": _HotSku(clients, commit_channel=True).measure(rounds, repeats),
    }


class _HotSku:
    """One SKU's state and its hold rounds through the batch core (imports as in `measure`)."""

    def __init__(self, clients: int, commit_channel: bool) -> None:
        from base.topics import partition_for
        from ledger.state import SkuState

        names, self.book = _bench_policies()
        self.channel = next(iter(names.channels))
        self.commit_named = {"channel": self.channel} if commit_channel else {}
        self.clients = clients
        self.sku = f"{names.prefix}-hot-sku"
        self.partition = partition_for(self.sku, PARTITIONS)
        self.state = SkuState.empty(self.sku)
        self.offset = self.serial = 0
        self.at = datetime.now(UTC).isoformat()
        self._run([self._message("events", {
            "event_id": "receipt", "type": "received", "sku": self.sku, "qty": 10_000_000,
            "location": names.locations[0], "occurred_at": self.at, "ingested_at": self.at,
            "source": "bench",
        })])  # fmt: skip

    def measure(self, rounds: int, repeats: int) -> dict[str, Any]:
        self._hold_rounds(2 * 1024 // self.clients + 1)  # the journals at their bounds
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            self._hold_rounds(rounds)
            best = min(best, time.process_time() - started)
        return {"us_per_command": round(best / (rounds * 2 * self.clients) * 1e6, 1)}

    def _hold_rounds(self, count: int) -> None:
        for _ in range(count):
            holds = [f"h-{self.serial + n}" for n in range(self.clients)]
            self.serial += self.clients
            self._run([self._message("commands", {
                "type": "reserve", "request_id": f"{hold}-r", "hold_id": hold, "sku": self.sku,
                "channel": self.channel, "qty": 1, "ttl_s": 600, "issued_at": self.at,
            }) for hold in holds])  # fmt: skip
            self._run([self._message("commands", {
                "type": "commit", "request_id": f"{hold}-c", "hold_id": hold, "sku": self.sku,
                "order_id": f"o-{hold}", "issued_at": self.at, **self.commit_named,
            }) for hold in holds])  # fmt: skip

    def _message(self, kind: str, body: dict[str, Any]) -> Any:
        from processors.batch import RawMessage

        self.offset += 1
        value = orjson.dumps(body)
        return RawMessage(kind, "t", self.partition, self.offset, self.sku.encode(), value, 0)  # type: ignore[arg-type]

    def _run(self, batch: list[Any]) -> None:
        from base.table_layout import state_writes
        from processors.batch import process_batch

        outcome = process_batch(batch, self._load, self.book, 1, partitions=PARTITIONS)
        for changed in outcome.states.values():
            state_writes(changed, outcome.stored.get(self.sku))
            self.state = changed

    def _load(self, _sku: str, _partition: int) -> Any:
        return self.state


def _in_process(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """This file's measurement run with `tree` first on the path."""
    command = [sys.executable, __file__, "--child", "--records", str(args.records)]
    command += ["--warmup", str(args.warmup), "--repeats", str(args.repeats), "--sizes"]
    command += [str(size) for size in args.sizes]
    if args.hot_sku:
        command += ["--hot-sku", "--clients", str(args.clients)]
        command += ["--hot-rounds", str(args.hot_rounds)]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _compare(args: argparse.Namespace) -> dict[str, Any]:
    """Best per side over `--rounds` alternating rounds, and after / before per size (or, with
    `--hot-sku`, per kind of commit)."""
    unit = "us_per_command" if args.hot_sku else "us_per_record"
    sides: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for side, tree in (("after", REPO), ("before", args.against.resolve())):
            for size, row in _in_process(tree, args).items():
                kept = sides[side].get(size)
                if kept is None or row[unit] < kept[unit]:
                    sides[side][size] = row
    ratios = {
        size: round(after[unit] / sides["before"][size][unit], 3)
        for size, after in sides["after"].items()
    }
    return {**sides, f"after_over_before_{unit}": ratios}


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    if args.hot_sku:
        return measure_hot(args.clients, args.hot_rounds, args.repeats)
    return measure(args.sizes, args.records, args.warmup, args.repeats)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 1000])
    parser.add_argument("--records", type=int, default=20_000, help="per size and repeat")
    parser.add_argument("--warmup", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --against")
    parser.add_argument("--hot-sku", action="store_true", help="one SKU's hold rounds instead")
    parser.add_argument("--clients", type=int, default=32, help="--hot-sku: commands a round")
    parser.add_argument("--hot-rounds", type=int, default=10, help="--hot-sku: a repeat's")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    counts = (args.records, args.repeats, args.rounds, args.clients, args.hot_rounds)
    if min(counts) < 1 or args.warmup < 0:
        parser.error(
            "--records, --repeats, --rounds, --clients, --hot-rounds must be > 0, --warmup >= 0"
        )
    if min(args.sizes) < 1:
        parser.error("--sizes must be >= 1")
    if args.child:
        figures = _measure(args)
        sys.stdout.write(json.dumps(figures) + "\n")
        return figures
    result: dict[str, Any] = {"command": " ".join([COMMAND, *(argv or sys.argv[1:])])}
    result["args"] = {k: str(v) for k, v in vars(args).items() if k not in ("out", "child")}
    if args.against is None:
        result["figures"] = _measure(args)
    else:
        result |= _compare(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
