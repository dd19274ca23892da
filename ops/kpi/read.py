"""Where `tally kpi` gets its counts: the workers' and the order processor's /metrics (totals
since they started) or Prometheus (each counter's increase over the window, a range query),
and the top stranded SKUs from Redis (`tally:kpi:stranded:{channel}`)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

import httpx

from base.redis_keys import stranded_key
from base.settings import Settings
from connectors.inspect.errors import ServiceDown
from connectors.inspect.published import redis_client
from connectors.inspect.top import HTTP_TIMEOUT_S, Samples, prometheus_url, query, scrape
from ops.kpi.sections import Series, StrandedSku, Totals, Window, all_series

PROCESS_START = "process_start_time_seconds"  # prometheus_client's process collector
TOP_STRANDED_SKUS = 5


def totals_of(samples: Samples, series: Iterable[Series]) -> Totals:
    """Each series' samples (name and `match` labels) summed by its label."""
    totals: dict[Series, dict[str, float]] = {}
    for wanted in series:
        by_label: dict[str, float] = defaultdict(float)
        for (name, labels), value in samples.items():
            pairs = dict(labels)
            if name == wanted.metric and all(pairs.get(k) == v for k, v in wanted.match):
                by_label[pairs.get(wanted.by, "")] += value
        totals[wanted] = dict(by_label)
    return totals


def process_start(samples: Samples) -> float | None:
    """When the scraped process started (Unix s), if it exports it."""
    return samples.get((PROCESS_START, ()))


def uptime_window(starts: Iterable[float | None], now_s: float) -> Window:
    """Since the first of the scraped workers started (None: a start time is missing)."""
    known = list(starts)
    if not known or None in known:
        return Window(None)
    return Window(max(0.0, now_s - min(start for start in known if start is not None)))


def order_processor_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.orders.metrics_port}/metrics"


async def from_metrics(
    urls: Sequence[str], optional_urls: Sequence[str] = ()
) -> tuple[Totals, Window, list[str]]:
    """The processes' counters summed over the endpoints, since the first of them started,
    and the endpoints read: each of `urls` must answer; one of `optional_urls` that does
    not (an order processor that is not running) is left out."""
    total: Samples = {}
    starts: list[float | None] = []
    read: list[str] = []
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        for url in [*urls, *optional_urls]:
            try:
                samples = await scrape(client, [url])
            except ServiceDown:
                if url in urls:
                    raise
                continue
            read.append(url)
            starts.append(process_start(samples))
            for key, value in samples.items():
                total[key] = total.get(key, 0.0) + value
    return totals_of(total, all_series()), uptime_window(starts, time.time()), read


def promql(series: Series, window_s: float) -> str:
    """`sum by (label)` of a counter's increase over the window, or of a gauge now."""
    matchers = ",".join(f'{label}="{value}"' for label, value in series.match)
    selector = f"{series.metric}{{{matchers}}}" if matchers else series.metric
    if series.kind == "counter":
        selector = f"increase({selector}[{max(1, round(window_s))}s])"
    return f"sum by ({series.by}) ({selector})"


async def from_prometheus(settings: Settings, window_s: float) -> Totals:
    base = prometheus_url(settings)
    totals: dict[Series, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        for series in all_series():
            result = await query(client, base, promql(series, window_s))
            totals[series] = {
                labels.get(series.by, ""): rounded_count(series, value)
                for labels, value in result
                if not math.isnan(value)
            }
    return totals


def rounded_count(series: Series, value: float) -> float:
    """increase() extrapolates to the window's edges: a count of events or units is a whole
    number again (rounded); seconds stay as they are."""
    if series.kind == "counter" and not series.metric.endswith("_seconds_total"):
        return float(round(value))
    return value


async def top_stranded(
    settings: Settings, channels: Iterable[str], count: int = TOP_STRANDED_SKUS
) -> dict[str, list[StrandedSku]]:
    """The most stranded SKUs of each channel, most units first."""
    chosen = list(channels)
    if not chosen:
        return {}
    async with redis_client(settings) as client:
        pipe = client.pipeline(transaction=False)
        for channel in chosen:
            pipe.zrevrange(stranded_key(channel), 0, count - 1, withscores=True)
        replies = await pipe.execute()
    return {
        channel: [StrandedSku(sku, round(units)) for sku, units in reply]
        for channel, reply in zip(chosen, replies, strict=True)
    }
