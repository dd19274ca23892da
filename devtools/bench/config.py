"""Every bound of one bench run (counts, durations, concurrency), with the full and smoke presets.

The presets are the defaults of `python -m devtools.bench --mode full|smoke`; each field can be
overridden on the command line (`--events 500000`, `--hold-clients 64`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

Mode = Literal["full", "smoke"]
PROGRESS_POLL_S_MIN = 0.01
PROGRESS_POLL_S_MAX = 5.0
STAGES = ("throughput", "latency", "recovery", "holds", "scale")


@dataclass(frozen=True)
class BenchConfig:
    mode: Mode
    seed: int = 7
    stages: tuple[str, ...] = STAGES
    # Workload shape: Zipf-popular SKUs over several locations and channels.
    skus: int = 10_000
    locations: int = 6
    # Share of the preloaded records that are hold commands (reserve, then commit).
    command_share: float = 0.1
    partitions: int = 4
    # 1. Throughput: records preloaded on the events + commands topics, then drained.
    events: int = 60_000
    drain_timeout_s: float = 300.0
    # How often a drain reads the worker's progress from its /metrics, seconds. Each read
    # renders every metric inside the worker, which costs the worker CPU it would otherwise
    # drain with; the drain's end is known to this much.
    progress_poll_s: float = 0.1
    # 2/3. Latency: seconds of paced load at each share of the measured maximum rate.
    load_levels: tuple[float, ...] = (0.25, 0.5, 0.8)
    level_duration_s: float = 20.0
    # The maximum the shares are of, records/s; 0 = this run's exactly_once drain. Pinned for
    # a before/after pair: near saturation a few per cent more offered load decides whether a
    # backlog forms, and each side's own drain differs by that much between runs.
    rate_basis: float = 0.0
    # A trickle measured before the shares (records/s): a lone record's latency, no backlog.
    trickle_rate: float = 100.0
    # py-spy flame graph (SVG) of the worker during the 50 % level, seconds; 0 = off.
    flame_s: float = 10.0
    # Offered rates never go above this (the Python producer's own ceiling, roughly).
    offered_rate_max: float = 30_000.0
    settle_timeout_s: float = 120.0
    # 4. Recovery: distinct SKU states written to the changelog, then restored.
    recovery_records: int = 1_000_000
    recovery_timeout_s: float = 900.0
    # ... and a worker killed (-9) halfway through this many records, then started again.
    crash_records: int = 20_000
    # 5. Hot-SKU holds: concurrent clients on one SKU, stock they exhaust, and a time bound.
    hold_clients: int = 32
    hold_stock_units: int = 5_000
    holds_timeout_s: float = 120.0
    hold_ttl_s: int = 600
    # 6. Scale: records drained by one worker, then (fresh topics) by two on this machine.
    scale_records: int = 60_000
    # The worker under test (a module run with -m); the stock one by default; `worker_tree`
    # runs it from another checkout (the code before a change), "" = this one. That worker
    # keeps its checkout's defaults: only settings that differ from this code's reach it.
    worker_module: str = "processors.worker"
    worker_tree: str = ""
    # Profiling the worker while it drains (py-spy), seconds; 0 = off.
    profile_s: float = 0.0

    def __post_init__(self) -> None:
        if not PROGRESS_POLL_S_MIN <= self.progress_poll_s <= PROGRESS_POLL_S_MAX:
            raise ValueError(
                f"progress_poll_s must be {PROGRESS_POLL_S_MIN:g}..{PROGRESS_POLL_S_MAX:g} s"
            )
        if not 0 <= self.rate_basis <= self.offered_rate_max:
            raise ValueError(
                f"rate_basis must be 0 (measured) or at most {self.offered_rate_max:g} records/s"
            )

    def with_overrides(self, overrides: dict[str, Any]) -> BenchConfig:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known and v is not None})


FULL = BenchConfig(mode="full")
SMOKE = BenchConfig(
    mode="smoke",
    skus=200,
    events=2_000,
    drain_timeout_s=60.0,
    level_duration_s=1.0,
    settle_timeout_s=30.0,
    recovery_records=2_000,
    recovery_timeout_s=60.0,
    crash_records=2_000,
    hold_clients=8,
    hold_stock_units=120,
    holds_timeout_s=30.0,
    flame_s=0.0,
    scale_records=2_000,
)
PRESETS: dict[str, BenchConfig] = {"full": FULL, "smoke": SMOKE}
