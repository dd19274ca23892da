"""What a SKU's table write costs: bytes, keys and `split_state` time, on the bench workload.

    .venv/bin/python -m devtools.bench.state_writes [--records N] [--skus N] [--locations N]

Runs the bench's own record mix (devtools/bench/gen.py: Zipf-popular SKUs, facts and
reserve + commit pairs on one channel) through the ledger (`evolve` for facts, `decide` for
commands), and after a warm-up splits each record's new state against the SKU's previous
one, as the worker writes a SKU once per batch (here a batch of one record: the 25 % load
case, where a batch changes about one SKU per record). Reported per write: the core's bytes,
all bytes written (core and chunks), keys written, how often the holds part was rewritten,
and the time of `split_state` (best of `--repeats`).

For comparison in the same run, `holds_part_in_core_bytes_mean` is what the core would be
with the holds part inside it (STATE_FORMAT 5 and before): its bytes plus the holds part's.
For an older tree's time, run this file with that tree first on the path (`PYTHONPATH=<tree>
python <this file>`): without a holds part there, every write is the core and its chunks.
Writes the figures to devtools/bench/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from devtools.bench.gen import Workload, sku_names, stamp
from ledger import codec
from ledger.codec import decode_command, decode_event, decode_policy, split_state
from ledger.decide import decide
from ledger.fold import evolve
from ledger.policy import PolicyBook, apply_policy
from ledger.state import SkuState

RESULTS = Path(__file__).resolve().parent / "results" / "state_writes.json"
# absent before STATE_FORMAT 6 (an older tree on the path: see the module's doc)
HOLDS_PART: Any = getattr(codec, "HOLDS_PART", None)
CHANNEL = "web"
Write = tuple[SkuState, SkuState | None]  # (state, the SKU's state before it)


def _book(locations: Sequence[str]) -> PolicyBook:
    record = {
        "kind": "channel",
        "channel": CHANNEL,
        "locations": list(locations),
        "buffer_units": 0,
        "version": 1,
        "updated_at": "2026-01-01T00:00:00Z",
    }
    return apply_policy(PolicyBook(), decode_policy(orjson.dumps(record)))


def writes(records: int, warmup: int, skus: int, locations: int, share: float) -> list[Write]:
    """Each record's (new state, previous state) after `warmup` records, in log order."""
    where = [f"loc-{n}" for n in range(locations)]
    book = _book(where)
    workload = Workload(1, sku_names("sw", skus), where, CHANNEL, share)
    states: dict[str, SkuState] = {}
    out: list[Write] = []
    for n, item in enumerate(workload.items(warmup + records)):
        sku = item.body["sku"]
        before = states.get(sku)
        start = SkuState.empty(sku) if before is None else before
        raw = stamp(item)
        if item.kind == "events":
            after = evolve(start, decode_event(raw))
        else:
            after = decide(start, decode_command(raw), book).state
        states[sku] = after
        if n >= warmup:
            out.append((after, before))
    return out


def _best_us(run: Any, count: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) / count * 1e6


def measure(sample: list[Write], repeats: int) -> dict[str, Any]:
    cores, written, keys, parts = [], [], [], []
    holds_rewrites = 0
    for state, stored in sample:
        split = split_state(state, stored)
        cores.append(len(split.core))
        written.append(len(split.core) + sum(len(raw) for raw in split.new_chunks.values()))
        keys.append(1 + len(split.new_chunks) + len(split.dropped_chunks))
        holds_rewrites += HOLDS_PART in split.new_chunks
        whole_part = split_state(state, None).new_chunks.get(HOLDS_PART, b"")
        parts.append(len(whole_part))
    count = len(sample)
    return {
        "writes": count,
        "core_bytes_mean": round(statistics.fmean(cores), 1),
        "written_bytes_mean": round(statistics.fmean(written), 1),
        "keys_mean": round(statistics.fmean(keys), 3),
        "holds_part_rewritten_share": round(holds_rewrites / count, 3),
        "split_state_us": round(
            _best_us(lambda: [split_state(s, p) for s, p in sample], count, repeats), 2
        ),
        "holds_part_in_core_bytes_mean": round(
            statistics.fmean(c + p for c, p in zip(cores, parts, strict=True)), 1
        ),
        "state_format": codec.STATE_FORMAT,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=6)
    parser.add_argument("--command-share", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (args.records > 0 and args.warmup >= 0 and 0 <= args.command_share <= 1):
        parser.error("--records > 0, --warmup >= 0, 0 <= --command-share <= 1")
    sample = writes(args.records, args.warmup, args.skus, args.locations, args.command_share)
    settings = {name: value for name, value in vars(args).items() if name != "out"}
    result = {"command": "python -m devtools.bench.state_writes", "args": settings}
    result |= measure(sample, args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
