"""What the real worker must count for the model's facts: the KPI counters, computed the
worker's way (`processors.kpi_counts`, `ledger.kpis.Attribution`) from a fold of the facts,
and how they compare with the counters read back from the worker (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.inspect.top import Samples
from ledger.events import Fact
from ledger.fold import apply_event
from ledger.kpis import Attribution
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors.kpi_counts import KpiCounts

# Worker counter -> the name of its KPI count here (by label).
COUNTERS = {
    "tally_cycle_counts_total": "counts",
    "tally_cycle_counts_matched_total": "matched",
    "tally_location_variance_units_total": "variance_units",
    "tally_units_sold_total": "sold",
    "tally_channel_oversold_units_total": "oversold",
}
KpiCounters = dict[str, dict[str, float]]  # count name -> label -> value


def expected_counters(facts: Iterable[Fact], book: PolicyBook) -> KpiCounters:
    """The KPI counters a worker ends with after folding `facts` under `book`."""
    states: dict[str, SkuState] = {}
    counts = KpiCounts()
    oversold_total = 0
    for fact in facts:
        applied = apply_event(states.get(fact.sku) or SkuState.empty(fact.sku), fact)
        states[fact.sku] = applied.state
        if applied.outcome == "applied":
            counts.add_fact(fact.type, fact, applied)
            oversold_total += applied.oversell_units
    labelled = counts.labelled(Attribution.of(book))
    out = {name: dict(getattr(labelled, name)) for name in COUNTERS.values()}
    out["oversold_total"] = {"": float(oversold_total)}
    return _without_zeros(out)


def worker_counters(samples: Samples, channel_prefix: str) -> KpiCounters:
    """The same counters as read from a worker's /metrics (channel names unprefixed)."""
    out: KpiCounters = {name: {} for name in COUNTERS.values()}
    for (metric, labels), value in samples.items():
        name = COUNTERS.get(metric)
        if name is None:
            continue
        label = dict(labels).get("location") or dict(labels).get("channel", "")
        out[name][label.removeprefix(channel_prefix)] = value
    total = sum(v for (metric, _), v in samples.items() if metric == "tally_oversold_units_total")
    out["oversold_total"] = {"": total}
    return _without_zeros(out)


def differences(expected: KpiCounters, got: KpiCounters) -> list[str]:
    """`count[label]: expected X, worker Y` for every value that differs."""
    found = []
    for name in sorted(expected.keys() | got.keys()):
        mine, theirs = expected.get(name, {}), got.get(name, {})
        for label in sorted(mine.keys() | theirs.keys()):
            if mine.get(label, 0.0) != theirs.get(label, 0.0):
                found.append(
                    f"{name}[{label}]: expected {mine.get(label, 0)}, worker {theirs.get(label, 0)}"
                )
    return found


def _without_zeros(counters: Mapping[str, Mapping[str, float]]) -> KpiCounters:
    return {name: {k: float(v) for k, v in by.items() if v} for name, by in counters.items()}
