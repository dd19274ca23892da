"""The worker's KPIs, computed by the stream: a batch's counts become labelled counters, and
the SKUs it changed update the stranded-stock tracker (docs/KPIS.md has the definitions).

Labels come from policy (ledger.kpis.Attribution, built once per policy book), never a SKU.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from ledger.kpis import Attribution
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors import metrics
from processors.kpi_counts import KpiCounts
from processors.stranded import StrandedTracker


class KpiTracker:
    def __init__(self, stranded: StrandedTracker) -> None:
        self.stranded = stranded
        self._attribution: tuple[PolicyBook, Attribution] | None = None

    def attribution(self, book: PolicyBook) -> Attribution:
        """The attribution of `book` (rebuilt only when the book changes)."""
        cached = self._attribution
        if cached is None or cached[0] is not book:
            cached = self._attribution = (book, Attribution.of(book))
            _create_series(cached[1])
        return cached[1]

    def count(self, counts: KpiCounts, book: PolicyBook) -> None:
        """Add one batch's counts to the KPI counters."""
        if counts.is_empty():
            return
        labelled = counts.labelled(self.attribution(book))
        for location, number in labelled.counts.items():
            metrics.CYCLE_COUNTS.labels(location).inc(number)
            # created at 0 with the first count (when policy did not name the location)
            metrics.CYCLE_COUNTS_MATCHED.labels(location).inc(labelled.matched[location])
        for location, units in labelled.variance_units.items():
            metrics.LOCATION_VARIANCE_UNITS.labels(location).inc(units)
        for channel in labelled.sold.keys() | labelled.oversold.keys():
            # both series exist from a channel's first sale (the "(none)" channel's too)
            metrics.UNITS_SOLD.labels(channel).inc(labelled.sold[channel])
            metrics.CHANNEL_OVERSOLD_UNITS.labels(channel).inc(labelled.oversold[channel])

    def observe(self, states: Iterable[SkuState], book: PolicyBook) -> None:
        for state in states:
            self.stranded.observe(state, book)

    async def flush(self, client: aioredis.Redis) -> None:
        await self.stranded.flush(client)

    def tick(self) -> None:
        self.stranded.tick()

    def reset(self) -> None:
        self.stranded.reset()


def _create_series(labels: Attribution) -> None:
    """Every counter of every location and channel policy names, at 0 until counted: a
    series that first appears above 0 hides that first step from Prometheus's increase()."""
    for location in labels.listed_locations:
        for counter in (metrics.CYCLE_COUNTS, metrics.CYCLE_COUNTS_MATCHED):
            counter.labels(location)
        metrics.LOCATION_VARIANCE_UNITS.labels(location)
    for channel in labels.channels:
        metrics.UNITS_SOLD.labels(channel)
        metrics.CHANNEL_OVERSOLD_UNITS.labels(channel)
