"""`tally kpi` on constructed stories: worker and order processor /metrics text in, exact KPI
rows out (pure), the Prometheus queries it sends, and what `--since` means per source."""

from __future__ import annotations

import asyncio

import pytest

from base.settings import Settings
from connectors.inspect.errors import ServiceDown
from connectors.inspect.top import parse_samples
from ops.kpi.read import (
    from_metrics,
    process_start,
    promql,
    rounded_count,
    totals_of,
    uptime_window,
)
from ops.kpi.report import SinceNeedsPrometheus, build_report, kpi
from ops.kpi.sections import (
    COUNTS,
    SECTIONS,
    STRANDED_SKU_SECONDS,
    SYNCED_ON_TIME,
    AccuracyRow,
    CostRow,
    FillRow,
    OversellRow,
    PickRejectionRow,
    SplitRow,
    StrandedRow,
    SyncSloRow,
    Window,
    all_series,
)
from ops.stack.ports import free_port

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

# The order processor's /metrics after the five stories of tests/ledger/test_order_kpis.py
# (an order filled, one split, one rejected at pick and re-routed, one refused, one partly
# filled), and a channel named by policy with no order yet.
ORDER_PROCESSOR = """
# TYPE tally_orders_decided_total counter
tally_orders_decided_total{channel="web"} 5.0
tally_orders_decided_total{channel="pos"} 0.0
# TYPE tally_order_units_ordered_total counter
tally_order_units_ordered_total{channel="web"} 13.0
tally_order_units_ordered_total{channel="pos"} 0.0
# TYPE tally_order_units_filled_total counter
tally_order_units_filled_total{channel="web"} 10.0
tally_order_units_filled_total{channel="pos"} 0.0
# TYPE tally_orders_sourced_total counter
tally_orders_sourced_total{channel="web"} 4.0
tally_orders_sourced_total{channel="pos"} 0.0
# TYPE tally_order_shipments_total counter
tally_order_shipments_total{channel="web"} 6.0
tally_order_shipments_total{channel="pos"} 0.0
# TYPE tally_order_cost_cents_total counter
tally_order_cost_cents_total{channel="web"} 7340.0
tally_order_cost_cents_total{channel="pos"} 0.0
# TYPE tally_pick_requested_units_total counter
tally_pick_requested_units_total{location="east"} 8.0
tally_pick_requested_units_total{location="west"} 2.0
tally_pick_requested_units_total{location="north"} 1.0
# TYPE tally_pick_rejected_units_total counter
tally_pick_rejected_units_total{location="east"} 0.0
tally_pick_rejected_units_total{location="west"} 1.0
tally_pick_rejected_units_total{location="north"} 0.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1080.0
"""


def story_report(now_s: float = 1090.0) -> dict[str, list[object]]:
    parts = [parse_samples(text) for text in (WORKER_A, WORKER_B, ORDER_PROCESSOR)]
    samples = {key: sum(part.get(key, 0.0) for part in parts) for key in set().union(*parts)}
    window = uptime_window([process_start(part) for part in parts], now_s)
    totals = totals_of(samples, all_series())
    report = build_report(totals, window, "metrics", ["a", "b", "orders"], None)
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


def test_fill_rate_is_the_share_of_ordered_units_allocated_at_first_decision() -> None:
    web, pos = story_report()["fill_rate"][1], story_report()["fill_rate"][0]
    assert web == FillRow("web", orders=5, units_ordered=13, units_filled=10, fill_rate=10 / 13)
    assert web.meets_target is False  # 76.9% < 98%
    assert pos == FillRow("pos", orders=0, units_ordered=0, units_filled=0, fill_rate=None)


def test_split_rate_and_cost_are_per_order_with_a_shipment() -> None:
    assert story_report()["split_rate"] == [
        SplitRow("pos", orders=0, shipments=0, shipments_per_order=None),
        SplitRow("web", orders=4, shipments=6, shipments_per_order=1.5),
    ]
    assert story_report()["cost_per_order"] == [
        CostRow("pos", orders=0, cost_cents=0, cents_per_order=None),
        CostRow("web", orders=4, cost_cents=7_340, cents_per_order=1_835.0),
    ]


def test_pick_rejection_rate_is_per_location() -> None:
    assert story_report()["pick_rejection_rate"] == [
        PickRejectionRow("east", requested_units=8, rejected_units=0, rejection_rate=0.0),
        PickRejectionRow("north", requested_units=1, rejected_units=0, rejection_rate=0.0),
        PickRejectionRow("west", requested_units=2, rejected_units=1, rejection_rate=0.5),
    ]


def test_an_order_processor_that_does_not_answer_is_left_out_unless_required() -> None:
    down = f"http://127.0.0.1:{free_port()}/metrics"
    totals, window, read = asyncio.run(from_metrics([], [down]))
    assert (read, window) == ([], Window(None))
    assert all(not by_label for by_label in totals.values())
    with pytest.raises(ServiceDown):
        asyncio.run(from_metrics([down]))


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
