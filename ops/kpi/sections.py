"""The KPI sections of `tally kpi`: the series each reads, its rows, and how a row prints.

Pure: a section turns `Totals` (each series summed by one label, over the window) into rows
with the formulas of `ledger.kpis`. Sources (ops/kpi/read.py) only fill `Totals`, so the
same rows come from Prometheus or from the workers' /metrics.

The worker's counters feed inventory accuracy, oversell rate, stranded stock and the sync
SLO; the order processor's (processors/orders/metrics.py) fill rate, split rate,
pick-rejection rate per location and cost per order.

Adding a KPI section: define its row dataclass, a `build` from `Totals`, its columns and
cells, and append a `Section` to `SECTIONS`. `tally kpi` reads, prints and emits it as JSON
(under its `name`) with no other change; its definition goes in docs/KPIS.md, its recording
rules in ops/prometheus/rules/kpis.yml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ledger.kpis import (
    FILL_RATE_TARGET,
    INVENTORY_ACCURACY_TARGET,
    SYNC_SLO_OBJECTIVE,
    UNATTRIBUTED,
    cost_per_order_cents,
    error_budget_left,
    fill_rate,
    inventory_accuracy,
    oversell_rate,
    pick_rejection_rate,
    ratio,
    split_rate,
)

R = TypeVar("R")
SeriesKind = Literal["counter", "gauge"]


@dataclass(frozen=True)
class Series:
    """One metric summed by one label: a counter's increase over the window, or a gauge now."""

    metric: str  # the series name as exported (e.g. `tally_units_sold_total`)
    by: str  # the label it is summed by
    kind: SeriesKind = "counter"
    match: tuple[tuple[str, str], ...] = ()  # label = value filters


# series -> label value -> total (a counter's increase over the window, a gauge's value now)
Totals = Mapping[Series, Mapping[str, float]]


@dataclass(frozen=True)
class Window:
    """What the counts cover: `seconds` (None: unknown, e.g. since each worker started)."""

    seconds: float | None


@dataclass(frozen=True)
class Section(Generic[R]):
    name: str  # the JSON key
    title: str
    series: tuple[Series, ...]
    build: Callable[[Totals, Window], list[R]]
    columns: tuple[str, ...]
    cells: Callable[[R], tuple[str, ...]]


def _labels(totals: Totals, *series: Series) -> list[str]:
    return sorted(set().union(*(totals.get(s, {}).keys() for s in series)))


def _get(totals: Totals, series: Series, label: str) -> float:
    return totals.get(series, {}).get(label, 0.0)


def _num(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


# --- inventory accuracy -------------------------------------------------------------------

COUNTS = Series("tally_cycle_counts_total", "location")
COUNTS_MATCHED = Series("tally_cycle_counts_matched_total", "location")
VARIANCE = Series("tally_location_variance_units_total", "location")


@dataclass(frozen=True)
class AccuracyRow:
    location: str
    counts: float
    matched: float
    accuracy: float | None  # share of counts that matched; None: no counts
    variance_units: float
    meets_target: bool | None = field(init=False)  # accuracy >= INVENTORY_ACCURACY_TARGET

    def __post_init__(self) -> None:
        meets = None if self.accuracy is None else self.accuracy >= INVENTORY_ACCURACY_TARGET
        object.__setattr__(self, "meets_target", meets)


def build_accuracy(totals: Totals, window: Window) -> list[AccuracyRow]:
    return [
        AccuracyRow(
            location=location,
            counts=_get(totals, COUNTS, location),
            matched=_get(totals, COUNTS_MATCHED, location),
            accuracy=inventory_accuracy(
                _get(totals, COUNTS, location), _get(totals, COUNTS_MATCHED, location)
            ),
            variance_units=_get(totals, VARIANCE, location),
        )
        for location in _labels(totals, COUNTS)
    ]


ACCURACY: Section[AccuracyRow] = Section(
    name="inventory_accuracy",
    title=f"inventory accuracy (target {INVENTORY_ACCURACY_TARGET:.1%} of counts match)",
    series=(COUNTS, COUNTS_MATCHED, VARIANCE),
    build=build_accuracy,
    columns=("location", "counts", "matched", "accuracy", "variance units", "target"),
    cells=lambda row: (
        row.location, _num(row.counts), _num(row.matched), _pct(row.accuracy),
        _num(row.variance_units), {True: "met", False: "MISSED", None: "-"}[row.meets_target],
    ),
)  # fmt: skip


# --- oversell rate --------------------------------------------------------------------------

SOLD = Series("tally_units_sold_total", "channel")
OVERSOLD = Series("tally_channel_oversold_units_total", "channel")


@dataclass(frozen=True)
class OversellRow:
    channel: str  # "(none)": oversells no channel caused (counts, damage ...)
    units_sold: float
    oversold_units: float
    per_10k_sold: float | None  # oversold units per 10,000 sold; None: nothing sold


def build_oversell(totals: Totals, window: Window) -> list[OversellRow]:
    rows = []
    for channel in _labels(totals, SOLD, OVERSOLD):
        sold, oversold = _get(totals, SOLD, channel), _get(totals, OVERSOLD, channel)
        rate = None if channel == UNATTRIBUTED else oversell_rate(oversold, sold)
        rows.append(OversellRow(channel, sold, oversold, rate))
    return rows


OVERSELL: Section[OversellRow] = Section(
    name="oversell_rate",
    title="oversell rate (target 0 per 10,000 units sold)",
    series=(SOLD, OVERSOLD),
    build=build_oversell,
    columns=("channel", "units sold", "oversold units", "per 10,000 sold"),
    cells=lambda row: (
        row.channel,
        _num(row.units_sold),
        _num(row.oversold_units),
        _num(row.per_10k_sold, ".1f"),
    ),
)


# --- stranded stock -------------------------------------------------------------------------

STRANDED_SKUS = Series("tally_stranded_skus", "channel", "gauge")
STRANDED_UNITS = Series("tally_stranded_units", "channel", "gauge")
STRANDED_SKU_SECONDS = Series("tally_stranded_sku_seconds_total", "channel")
STRANDED_UNIT_SECONDS = Series("tally_stranded_unit_seconds_total", "channel")


@dataclass(frozen=True)
class StrandedSku:
    sku: str
    units: int


@dataclass(frozen=True)
class StrandedRow:
    channel: str
    skus_now: float
    units_now: float
    sku_minutes: float  # over the window
    average_units: float | None  # unit-seconds / window; None: window unknown
    top_skus: list[StrandedSku] = field(default_factory=list)  # from Redis, most units first


def build_stranded(totals: Totals, window: Window) -> list[StrandedRow]:
    rows = []
    for channel in _labels(totals, STRANDED_SKUS, STRANDED_SKU_SECONDS):
        unit_seconds = _get(totals, STRANDED_UNIT_SECONDS, channel)
        average = None if window.seconds is None else ratio(unit_seconds, window.seconds)
        rows.append(
            StrandedRow(
                channel=channel,
                skus_now=_get(totals, STRANDED_SKUS, channel),
                units_now=_get(totals, STRANDED_UNITS, channel),
                sku_minutes=_get(totals, STRANDED_SKU_SECONDS, channel) / 60,
                average_units=average,
            )
        )
    return rows


STRANDED: Section[StrandedRow] = Section(
    name="stranded_stock",
    title="stranded stock (channel at 0 while locations outside its pool hold sellable units)",
    series=(STRANDED_SKUS, STRANDED_UNITS, STRANDED_SKU_SECONDS, STRANDED_UNIT_SECONDS),
    build=build_stranded,
    columns=("channel", "SKUs now", "units now", "SKU-minutes", "avg units", "top SKUs (units)"),
    cells=lambda row: (
        row.channel, _num(row.skus_now), _num(row.units_now), _num(row.sku_minutes, ".1f"),
        _num(row.average_units, ".1f"),
        ", ".join(f"{top.sku} ({top.units})" for top in row.top_skus) or "-",
    ),
)  # fmt: skip


# --- sync-latency SLO -------------------------------------------------------------------

SYNCED = Series("tally_sync_latency_seconds_count", "channel")
SYNCED_ON_TIME = Series("tally_sync_latency_seconds_bucket", "channel", match=(("le", "1.0"),))


@dataclass(frozen=True)
class SyncSloRow:
    channel: str
    figures: float
    on_time: float  # visible in Redis within 1 s
    attainment: float | None
    error_budget_left: float | None  # 1: untouched; 0: spent; < 0: the SLO is missed


def build_sync_slo(totals: Totals, window: Window) -> list[SyncSloRow]:
    rows = []
    for channel in _labels(totals, SYNCED):
        figures, on_time = _get(totals, SYNCED, channel), _get(totals, SYNCED_ON_TIME, channel)
        budget = error_budget_left(on_time, figures)
        rows.append(SyncSloRow(channel, figures, on_time, ratio(on_time, figures), budget))
    return rows


SYNC_SLO: Section[SyncSloRow] = Section(
    name="sync_slo",
    title=f"sync-latency SLO ({SYNC_SLO_OBJECTIVE:.0%} of figures visible within 1 s)",
    series=(SYNCED, SYNCED_ON_TIME),
    build=build_sync_slo,
    columns=("channel", "figures", "within 1 s", "attainment", "error budget left"),
    cells=lambda row: (
        row.channel, _num(row.figures), _num(row.on_time), _pct(row.attainment),
        _pct(row.error_budget_left),
    ),
)  # fmt: skip


# --- the order KPIs (the order processor's counters) --------------------------------------

ORDERS_DECIDED = Series("tally_orders_decided_total", "channel")
UNITS_ORDERED = Series("tally_order_units_ordered_total", "channel")
UNITS_FILLED = Series("tally_order_units_filled_total", "channel")
ORDERS_SOURCED = Series("tally_orders_sourced_total", "channel")
SHIPMENTS = Series("tally_order_shipments_total", "channel")
COST_CENTS = Series("tally_order_cost_cents_total", "channel")
PICK_REQUESTED = Series("tally_pick_requested_units_total", "location")
PICK_REJECTED = Series("tally_pick_rejected_units_total", "location")


@dataclass(frozen=True)
class FillRow:
    channel: str
    orders: float  # orders that reached their first decision
    units_ordered: float
    units_filled: float  # allocated at the first decision
    fill_rate: float | None
    meets_target: bool | None = field(init=False)  # fill_rate >= FILL_RATE_TARGET

    def __post_init__(self) -> None:
        meets = None if self.fill_rate is None else self.fill_rate >= FILL_RATE_TARGET
        object.__setattr__(self, "meets_target", meets)


def build_fill(totals: Totals, window: Window) -> list[FillRow]:
    rows = []
    for channel in _labels(totals, ORDERS_DECIDED):
        ordered, filled = _get(totals, UNITS_ORDERED, channel), _get(totals, UNITS_FILLED, channel)
        orders = _get(totals, ORDERS_DECIDED, channel)
        rows.append(FillRow(channel, orders, ordered, filled, fill_rate(filled, ordered)))
    return rows


FILL: Section[FillRow] = Section(
    name="fill_rate",
    title=f"fill rate (target {FILL_RATE_TARGET:.0%} of ordered units allocated at first decision)",
    series=(ORDERS_DECIDED, UNITS_ORDERED, UNITS_FILLED),
    build=build_fill,
    columns=("channel", "orders", "units ordered", "units filled", "fill rate", "target"),
    cells=lambda row: (
        row.channel, _num(row.orders), _num(row.units_ordered), _num(row.units_filled),
        _pct(row.fill_rate), {True: "met", False: "MISSED", None: "-"}[row.meets_target],
    ),
)  # fmt: skip


@dataclass(frozen=True)
class SplitRow:
    channel: str
    orders: float  # orders with at least one shipment at their first decision
    shipments: float
    shipments_per_order: float | None


def build_split(totals: Totals, window: Window) -> list[SplitRow]:
    return [SplitRow(*row) for row in _per_order_sourced(totals, SHIPMENTS, split_rate)]


def _per_order_sourced(
    totals: Totals, series: Series, kpi: Callable[[float, float], float | None]
) -> list[tuple[str, float, float, float | None]]:
    """(channel, orders with a shipment, the series' total, the KPI of the two) per channel."""
    rows = []
    for channel in _labels(totals, ORDERS_SOURCED):
        orders, total = _get(totals, ORDERS_SOURCED, channel), _get(totals, series, channel)
        rows.append((channel, orders, total, kpi(total, orders)))
    return rows


SPLIT: Section[SplitRow] = Section(
    name="split_rate",
    title="split rate (shipments per order at first decision)",
    series=(ORDERS_SOURCED, SHIPMENTS),
    build=build_split,
    columns=("channel", "orders", "shipments", "shipments per order"),
    cells=lambda row: (
        row.channel, _num(row.orders), _num(row.shipments), _num(row.shipments_per_order, ".2f")
    ),
)  # fmt: skip


@dataclass(frozen=True)
class PickRejectionRow:
    location: str
    requested_units: float  # units it was asked to pick
    rejected_units: float
    rejection_rate: float | None


def build_pick_rejections(totals: Totals, window: Window) -> list[PickRejectionRow]:
    rows = []
    for location in _labels(totals, PICK_REQUESTED, PICK_REJECTED):
        requested = _get(totals, PICK_REQUESTED, location)
        rejected = _get(totals, PICK_REJECTED, location)
        rate = pick_rejection_rate(rejected, requested)
        rows.append(PickRejectionRow(location, requested, rejected, rate))
    return rows


PICK_REJECTIONS: Section[PickRejectionRow] = Section(
    name="pick_rejection_rate",
    title="pick-rejection rate (units rejected / units asked to pick)",
    series=(PICK_REQUESTED, PICK_REJECTED),
    build=build_pick_rejections,
    columns=("location", "requested units", "rejected units", "rejection rate"),
    cells=lambda row: (
        row.location, _num(row.requested_units), _num(row.rejected_units),
        _pct(row.rejection_rate),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class CostRow:
    channel: str
    orders: float  # orders with at least one shipment at their first decision
    cost_cents: float  # their handling and shipping
    cents_per_order: float | None


def build_cost(totals: Totals, window: Window) -> list[CostRow]:
    return [CostRow(*row) for row in _per_order_sourced(totals, COST_CENTS, cost_per_order_cents)]


COST: Section[CostRow] = Section(
    name="cost_per_order",
    title="cost per order (handling + shipping, cents)",
    series=(ORDERS_SOURCED, COST_CENTS),
    build=build_cost,
    columns=("channel", "orders", "cost (cents)", "cents per order"),
    cells=lambda row: (
        row.channel, _num(row.orders), _num(row.cost_cents), _num(row.cents_per_order, ".1f")
    ),
)  # fmt: skip


SECTIONS: tuple[Section[Any], ...] = (
    ACCURACY, OVERSELL, STRANDED, SYNC_SLO, FILL, SPLIT, PICK_REJECTIONS, COST,
)  # fmt: skip


def all_series(sections: tuple[Section[Any], ...] = SECTIONS) -> tuple[Series, ...]:
    return tuple(dict.fromkeys(series for section in sections for series in section.series))
