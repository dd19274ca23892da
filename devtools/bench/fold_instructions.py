"""Instructions per event of decode, fold and the baseline, counted by callgrind.

    .venv/bin/python -m devtools.bench.fold_instructions [--events N] [--skus N] [--locations N]

The fold bench (devtools/bench/fold_bench.py) times the same three loops; this counts their
machine instructions under `valgrind --tool=callgrind`, which gives the same count on every
run whatever else the machine is doing (with PYTHONHASHSEED fixed). It answers "did this
change make the fold do less work?" on a machine too noisy to time small changes; it says
nothing about cache misses or branch mispredictions, so the timed ratio stays the target.

Each stage is a child process: `setup` builds and decodes the events, and every other stage
is `setup` plus one loop, so a loop's count is its stage minus `setup`, divided by the
events. Results go to devtools/bench/results/fold_instructions.json; its `history` (earlier
figures kept for comparison) is carried over from the file it replaces.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from base.settings import REPO_ROOT
from devtools.bench.fold_bench import make_events, run_baseline
from processors.gc_tuning import worker_thresholds

RESULTS = Path(__file__).resolve().parent / "results" / "fold_instructions.json"
COMMAND = ".venv/bin/python -m devtools.bench.fold_instructions"
STAGES = ("setup", "decode", "fold", "baseline")
# Each child runs ~50x slower under callgrind than natively.
STAGE_TIMEOUT_S = 1_800
_TOTALS = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def run_stage(stage: str, events: int, skus: int, locations: int, seed: int) -> None:
    """One child's work: `setup`, then the stage's loop (nothing is timed here)."""
    from ledger.codec import decode_event
    from ledger.fold import evolve
    from ledger.state import SkuState

    gc.set_threshold(*worker_thresholds())
    raws = make_events(events, skus, locations, seed)
    decoded = [decode_event(raw) for raw in raws]
    gc.collect()
    gc.freeze()  # the setup's objects are never traced by the loop's collections
    if stage == "decode":
        for raw in raws:
            decode_event(raw)
    elif stage == "fold":  # as fold_bench.run_fold, on events decoded in the setup
        table: dict[str, SkuState] = {}
        for event in decoded:
            sku = event.sku
            state = table.get(sku)
            if state is None:
                state = SkuState.empty(sku)
            table[sku] = evolve(state, event)
    elif stage == "baseline":
        run_baseline(raws)


def count_instructions(
    stage: str, events: int, skus: int, locations: int, seed: int, valgrind: str
) -> int:
    """Total instructions of one stage's child process under callgrind."""
    with tempfile.TemporaryDirectory(prefix="tally-callgrind-") as work:
        out = Path(work) / "callgrind.out"
        child = [sys.executable, "-m", "devtools.bench.fold_instructions", "--child", stage]
        child += ["--events", str(events), "--skus", str(skus), "--locations", str(locations)]
        child += ["--seed", str(seed)]
        command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *child]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=STAGE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"stage {stage} exited {done.returncode} under callgrind:\n{tail}")
        found = _TOTALS.search(out.read_bytes())
        if found is None:
            raise RuntimeError(f"stage {stage}: no instruction total in {out.name}")
        return int(found.group(1))


def bench(events: int, skus: int, locations: int, seed: int) -> dict[str, Any]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: ops/bootstrap.sh installs it (apt valgrind)")
    totals: dict[str, int] = {}
    for stage in STAGES:
        started = time.monotonic()
        totals[stage] = count_instructions(stage, events, skus, locations, seed, valgrind)
        took = time.monotonic() - started
        sys.stdout.write(f"  {stage:<8} {totals[stage]:>15,} instructions ({took:.0f} s)\n")
        sys.stdout.flush()
    per_event = {stage: round((totals[stage] - totals["setup"]) / events) for stage in STAGES[1:]}
    return {
        "command": " ".join([COMMAND, *sys.argv[1:]]),
        "events": events,
        "skus": skus,
        "locations": locations,
        "seed": seed,
        "instructions_per_event": per_event,
        # What the timed ratio would be if every instruction cost the same (it does not).
        "instruction_ratio": round(
            per_event["baseline"] / (per_event["decode"] + per_event["fold"]), 3
        ),
        "stage_totals": totals,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--skus", type=int, default=2_000)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events < 1 or args.skus < 1 or args.locations < 1:
        parser.error("--events, --skus and --locations must be at least 1")
    if args.child is not None:
        run_stage(args.child, args.events, args.skus, args.locations, args.seed)
        return None
    sys.stdout.write(f"callgrind, {args.events:,} events, {len(STAGES)} stages:\n")
    result = bench(args.events, args.skus, args.locations, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # earlier figures kept for comparison, by hand-written label
        result["history"] = json.loads(args.out.read_text()).get("history", [])
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    figures = result["instructions_per_event"]
    sys.stdout.write(
        f"per event: decode {figures['decode']:,}  fold {figures['fold']:,}"
        f"  baseline {figures['baseline']:,}"
        f"  (instruction ratio {result['instruction_ratio']:.3f})  -> {args.out}\n"
    )
    return result


if __name__ == "__main__":
    main()
