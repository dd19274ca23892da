"""`tally kpi` on constructed stories: worker /metrics text in, exact KPI rows out (pure),
the Prometheus queries it sends, and what `--since` means per source."""

from __future__ import annotations

import asyncio

import pytest

from base.settings import Settings
from connectors.inspect.top import parse_samples
from ops.kpi.read import process_start, promql, rounded_count, totals_of, uptime_window
from ops.kpi.report import SinceNeedsPrometheus, build_report, kpi
from ops.kpi.sections import (
    COUNTS,
    SECTIONS,
    STRANDED_SKU_SECONDS,
    SYNCED_ON_TIME,
    AccuracyRow,
    OversellRow,
    StrandedRow,
    SyncSloRow,
    Window,
    all_series,
)

# Two workers' /metrics: a count that matched and one that did not at store-a, every count
# matched at store-b; web oversold 3 of 1,500 units; pos none; a count that found less than
# the committed orders (no channel's); 2 SKUs stranded for marketplace for 30 s; web synced
# 1,000 figures, 996 within 1 s.
WORKER_A = """
# TYPE tally_cycle_counts_total counter
tally_cycle_counts_total{location="store-a"} 2.0
tally_cycle_counts_total{location="store-b"} 150.0
# TYPE tally_cycle_counts_matched_total counter
tally_cycle_counts_matched_total{location="store-a"} 1.0
tally_cycle_counts_matched_total{location="store-b"} 150.0
# TYPE tally_location_variance_units_total counter
tally_location_variance_units_total{location="store-a"} 2.0
# TYPE tally_units_sold_total counter
tally_units_sold_total{channel="web"} 1000.0
tally_units_sold_total{channel="pos"} 40.0
# TYPE tally_channel_oversold_units_total counter
tally_channel_oversold_units_total{channel="web"} 2.0
tally_channel_oversold_units_total{channel="pos"} 0.0
tally_channel_oversold_units_total{channel="(none)"} 4.0
# TYPE tally_stranded_skus gauge
tally_stranded_skus{channel="marketplace"} 2.0
# TYPE tally_stranded_units gauge
tally_stranded_units{channel="marketplace"} 9.0
# TYPE tally_stranded_sku_seconds_total counter
tally_stranded_sku_seconds_total{channel="marketplace"} 60.0
# TYPE tally_stranded_unit_seconds_total counter
tally_stranded_unit_seconds_total{channel="marketplace"} 270.0
# TYPE tally_sync_latency_seconds histogram
tally_sync_latency_seconds_bucket{channel="web",le="0.5"} 990.0
tally_sync_latency_seconds_bucket{channel="web",le="1.0"} 996.0
tally_sync_latency_seconds_bucket{channel="web",le="+Inf"} 1000.0
tally_sync_latency_seconds_count{channel="web"} 1000.0
tally_sync_latency_seconds_sum{channel="web"} 120.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1000.0
"""
WORKER_B = """
# TYPE tally_units_sold_total counter
tally_units_sold_total{channel="web"} 500.0
# TYPE tally_channel_oversold_units_total counter
tally_channel_oversold_units_total{channel="web"} 1.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1090.0
"""


def story_report(now_s: float = 1090.0) -> dict[str, list[object]]:
    a, b = parse_samples(WORKER_A), parse_samples(WORKER_B)
    samples = {key: a.get(key, 0.0) + b.get(key, 0.0) for key in a.keys() | b.keys()}
    window = uptime_window([process_start(a), process_start(b)], now_s)
    report = build_report(totals_of(samples, all_series()), window, "metrics", ["a", "b"], None)
    assert report.window_s == pytest.approx(90.0)  # since the first worker started
    return report.sections


def test_accuracy_is_per_location_with_the_variance_and_the_target() -> None:
    assert story_report()["inventory_accuracy"] == [
        AccuracyRow("store-a", counts=2, matched=1, accuracy=0.5, variance_units=2),
        AccuracyRow("store-b", counts=150, matched=150, accuracy=1.0, variance_units=0),
    ]
    rows = story_report()["inventory_accuracy"]
    assert [row.meets_target for row in rows] == [False, True]  # type: ignore[attr-defined]


def test_oversell_rate_is_per_channel_over_both_workers() -> None:
    assert story_report()["oversell_rate"] == [
        OversellRow("(none)", units_sold=0, oversold_units=4, per_10k_sold=None),
        OversellRow("pos", units_sold=40, oversold_units=0, per_10k_sold=0.0),
        OversellRow("web", units_sold=1_500, oversold_units=3, per_10k_sold=20.0),
    ]


def test_stranded_stock_in_sku_minutes_and_average_units_over_the_window() -> None:
    assert story_report()["stranded_stock"] == [
        StrandedRow("marketplace", skus_now=2, units_now=9, sku_minutes=1.0, average_units=3.0)
    ]


def test_sync_slo_attainment_and_the_error_budget_left() -> None:
    (row,) = story_report()["sync_slo"]
    assert isinstance(row, SyncSloRow)
    assert (row.channel, row.figures, row.on_time) == ("web", 1_000, 996)
    assert row.attainment == pytest.approx(0.996)
    assert row.error_budget_left == pytest.approx(0.6)  # 0.4% late of the 1% allowed


def test_the_window_is_unknown_when_a_worker_exports_no_start_time() -> None:
    assert uptime_window([1000.0, None], 1090.0) == Window(None)
    assert uptime_window([], 1090.0) == Window(None)


def test_nothing_counted_gives_empty_sections_not_zero_kpis() -> None:
    report = build_report(totals_of({}, all_series()), Window(None), "metrics", [], None)
    assert report.sections == {section.name: [] for section in SECTIONS}


def test_prometheus_reads_each_counter_as_its_increase_over_the_window() -> None:
    assert promql(SYNCED_ON_TIME, 3600.4) == (
        'sum by (channel) (increase(tally_sync_latency_seconds_bucket{le="1.0"}[3600s]))'
    )
    gauge = next(s for s in all_series() if s.kind == "gauge")
    assert promql(gauge, 60) == f"sum by (channel) ({gauge.metric})"


def test_prometheus_extrapolated_counts_are_whole_again_and_seconds_are_not() -> None:
    assert rounded_count(COUNTS, 2.9996) == 3.0  # increase() extrapolates to the window's edges
    assert rounded_count(STRANDED_SKU_SECONDS, 59.7) == 59.7


def test_since_is_refused_from_metrics_which_keep_no_history() -> None:
    from datetime import UTC, datetime

    with pytest.raises(SinceNeedsPrometheus, match="--since needs history"):
        asyncio.run(kpi(Settings(), datetime(2026, 1, 1, tzinfo=UTC), "metrics", []))
