"""`tally kpi`: every KPI section over one window, from one source, as one report.

`--since T` means the window [T, now], read from Prometheus (each counter's increase over
the window). Without it: Prometheus's last `DEFAULT_WINDOW_S` when Prometheus is up, else
the workers' /metrics, whose counters run since each worker started.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from base.settings import Settings
from connectors.inspect.top import prometheus_up, prometheus_url
from ops.kpi import read
from ops.kpi.sections import SECTIONS, STRANDED, StrandedRow, Totals, Window

Source = Literal["metrics", "prometheus"]
DEFAULT_WINDOW_S = 24 * 3600.0


class SinceNeedsPrometheus(ValueError):
    """`--since` asked of the /metrics source, which has no history."""


@dataclass(frozen=True)
class KpiReport:
    source: Source
    where: list[str]
    since: datetime | None  # None: since the workers started (metrics source)
    window_s: float | None
    sections: dict[str, list[Any]]  # section name -> its rows (ops/kpi/sections.py)
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_report(
    totals: Totals, window: Window, source: Source, where: list[str], since: datetime | None
) -> KpiReport:
    """Every section's rows from the counts (pure)."""
    sections = {section.name: section.build(totals, window) for section in SECTIONS}
    return KpiReport(source, where, since, window.seconds, sections)


async def kpi(
    settings: Settings,
    since: datetime | None,
    source: str,
    metrics_urls: Sequence[str],
    optional_urls: Sequence[str] = (),
) -> KpiReport:
    """Read the counts from the chosen source, build the sections, add the top stranded SKUs.

    From /metrics: every one of `metrics_urls`, and those of `optional_urls` that answer."""
    use_prometheus = source == "prometheus" or (
        source == "auto" and (since is not None or await prometheus_up(settings))
    )
    if since is not None and not use_prometheus:
        raise SinceNeedsPrometheus(
            "--since needs history: read it from Prometheus (`--source prometheus`, "
            "`tally up --with-prometheus`); /metrics only has totals since each worker started"
        )
    if use_prometheus:
        window_s = DEFAULT_WINDOW_S if since is None else max(1.0, time.time() - since.timestamp())
        totals = await read.from_prometheus(settings, window_s)
        report = build_report(
            totals, Window(window_s), "prometheus", [prometheus_url(settings)], since
        )
    else:
        totals, window, where = await read.from_metrics(metrics_urls, optional_urls)
        report = build_report(totals, window, "metrics", where, None)
    return await _with_top_stranded(settings, report)


async def _with_top_stranded(settings: Settings, report: KpiReport) -> KpiReport:
    rows: list[StrandedRow] = report.sections[STRANDED.name]
    top = await read.top_stranded(settings, [row.channel for row in rows])
    sections = {
        **report.sections,
        STRANDED.name: [
            dataclasses.replace(row, top_skus=top.get(row.channel, [])) for row in rows
        ],
    }
    return dataclasses.replace(report, sections=sections)
