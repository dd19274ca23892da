"""A batch's raw KPI counts, gathered by the fold (processors.batch) without policy lookups.

Facts are counted by (location, source) as they come; `processors.kpi_metrics` gives them
their channel and location labels once per batch (ledger.kpis.Attribution), so the fold's
hot path adds a few dictionary updates and nothing per channel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ledger.events import Fact
from ledger.fold import Applied
from ledger.kpis import SALE_TYPES, Attribution


@dataclass(slots=True)
class KpiCounts:
    counts: Counter[tuple[str, bool]] = field(default_factory=Counter)  # (location, matched)
    variance_units: Counter[str] = field(default_factory=Counter)  # location -> |variance|
    sales: Counter[tuple[str, str]] = field(default_factory=Counter)  # (location, source)
    held_sales: Counter[str] = field(default_factory=Counter)  # channel -> committed units
    # (fact type, location, source) -> units sold beyond availability
    oversold: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add_fact(self, kind: str, fact: Fact, applied: Applied) -> None:
        """An applied fact of type `kind` (a count, a sale, or one that oversold)."""
        if kind == "counted":
            variance = applied.variance_units
            self.counts[(fact.location, variance == 0)] += 1
            if variance:
                self.variance_units[fact.location] += abs(variance)
        elif kind in SALE_TYPES:
            self.sales[(fact.location, fact.source)] += fact.qty
        if applied.oversell_units:
            self.oversold[(kind, fact.location, fact.source)] += applied.oversell_units

    def add_committed_hold(self, channel: str, qty: int) -> None:
        self.held_sales[channel] += qty

    def is_empty(self) -> bool:
        return not (self.counts or self.sales or self.held_sales or self.oversold)

    def labelled(self, labels: Attribution) -> Labelled:
        """The counts under their metric labels: locations and channels from policy."""
        out = Labelled()
        for (location, matched), number in self.counts.items():
            label = labels.location_label(location)
            out.counts[label] += number
            out.matched[label] += number if matched else 0
        for location, units in self.variance_units.items():
            out.variance_units[labels.location_label(location)] += units
        out.sold.update(self.held_sales)
        for (location, source), units in self.sales.items():
            out.sold[labels.sale_channel(location, source)] += units
        for (kind, location, source), units in self.oversold.items():
            out.oversold[labels.oversell_channel(kind, location, source)] += units
        return out


@dataclass(slots=True)
class Labelled:
    """KPI counts by metric label (processors.metrics: location or channel)."""

    counts: Counter[str] = field(default_factory=Counter)  # location -> cycle counts
    matched: Counter[str] = field(default_factory=Counter)  # location -> counts that matched
    variance_units: Counter[str] = field(default_factory=Counter)  # location -> |variance|
    sold: Counter[str] = field(default_factory=Counter)  # channel -> units sold
    oversold: Counter[str] = field(default_factory=Counter)  # channel -> units oversold
