"""The simulation's points: every sync policy replayed on the same traces (one per seed),
each run's counts flattened into figures, and their mean, min and max over the seeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devtools.sim.model import BatchSync, Counts, Streaming, SyncPolicy, replay
from devtools.sim.trace import SimConfig, generate
from ledger.events import Fact
from ledger.kpis import oversell_rate

# The figures of one run, in report order: (key, what it is).
FIGURES = {
    "oversold_units": "units sold online beyond the stock (orders cancelled at placement)",
    "oversold_per_10k": "oversold units per 10,000 units ordered online (the KPI's rate)",
    "cancelled_orders": "online orders cancelled because they oversold",
    "stranded_sku_min": "SKU-minutes a channel showed 0 while its pool held sellable units",
    "lost_units": "units customers did not buy because the channel showed too few",
    "outside_pool_sku_min": "SKU-minutes a channel showed 0 with stock only outside its pool",
    "pick_failures": "orders cancelled at shipment (not on the shelf: shrink)",
    "ledger_oversold_units": "every oversell the ledger measured (store sales, counts too)",
    "units_sold": "units sold online",
    "figures_sent": "figure refreshes sent to the channels",
}


@dataclass(frozen=True)
class Point:
    policy: str
    interval_s: float  # the sync interval; for streaming, the median measured latency
    by_seed: dict[int, dict[str, float]]

    def stat(self, key: str, how: str) -> float:
        values = [run[key] for run in self.by_seed.values()]
        if how == "mean":
            return sum(values) / len(values)
        return min(values) if how == "min" else max(values)


def figures_of(counts: Counts) -> dict[str, float]:
    per_10k = oversell_rate(counts.oversold_units_online, counts.units_placed)
    return {
        "oversold_units": counts.oversold_units_online,
        "oversold_per_10k": round(per_10k or 0.0, 1),
        "cancelled_orders": counts.cancelled_orders,
        "stranded_sku_min": round(sum(counts.stale_s.values()) / 60, 1),
        "lost_units": counts.lost_units,
        "outside_pool_sku_min": round(sum(counts.outside_s.values()) / 60, 1),
        "pick_failures": counts.pick_failures,
        "ledger_oversold_units": counts.oversold_units,
        "units_sold": counts.units_sold,
        "figures_sent": counts.figures_sent,
    }


def policies(intervals_min: Sequence[float], latencies_s: Sequence[float]) -> list[SyncPolicy]:
    batch: list[SyncPolicy] = [BatchSync(minutes * 60) for minutes in intervals_min]
    return [Streaming(tuple(latencies_s)), *batch]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def run_points(
    config: SimConfig, seeds: Sequence[int], chosen: Sequence[SyncPolicy]
) -> list[Point]:
    """Each policy on each seed's trace (the traces generated once)."""
    traces = {seed: generate(dataclasses.replace(config, seed=seed)) for seed in seeds}
    points = []
    for policy in chosen:
        by_seed = {seed: figures_of(replay(trace, policy).counts) for seed, trace in traces.items()}
        interval = (
            policy.interval_s if isinstance(policy, BatchSync) else median(policy.latencies_s)
        )
        points.append(Point(policy.name, interval, by_seed))
    return points


def facts_differing(first: Sequence[Fact], second: Sequence[Fact]) -> int:
    """How many facts of two runs' logs differ (type, SKU, location, quantity, in order)."""

    def shape(fact: Fact) -> tuple[Any, ...]:
        return (fact.type, fact.sku, fact.location, fact.qty)

    differing = sum(shape(a) != shape(b) for a, b in zip(first, second, strict=False))
    return differing + abs(len(first) - len(second))
