"""Percentiles and rates of the bench's samples (nearest-rank, no interpolation)."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50, 95, 99)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """{p50, p95, p99, max, count} of `values` (ms), rounded to 0.01."""
    ordered = sorted(values)
    out = {f"p{p}": round(percentile(ordered, p), 2) for p in PERCENTILES}
    out["max"] = round(ordered[-1], 2) if ordered else 0.0
    out["count"] = len(ordered)
    return out


def steady_rate(
    samples: Sequence[tuple[float, float]], low: float = 0.1, high: float = 0.9
) -> float:
    """Records/s between the samples where progress crossed `low` and `high` of the total."""
    if len(samples) < 2:
        return 0.0
    total = samples[-1][1]
    start = next((s for s in samples if s[1] >= low * total), samples[0])
    end = next((s for s in samples if s[1] >= high * total), samples[-1])
    if end[0] <= start[0]:
        start, end = samples[0], samples[-1]
    span = end[0] - start[0]
    return (end[1] - start[1]) / span if span > 0 else 0.0
