"""`tally top`: the figures on-call watches, from the workers' /metrics or from Prometheus.

From metrics endpoints, two scrapes `interval_s` apart give rates and a p99 over that
window (Prometheus's histogram_quantile, computed here on the bucket deltas); from
Prometheus, the recording rules of ops/prometheus/rules/recording.yml give 1m figures.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from base.settings import Settings
from connectors.inspect.errors import ServiceDown

Source = Literal["metrics", "prometheus"]
HTTP_TIMEOUT_S = 3.0
WORKER_HINT = (
    "start a worker with `python -m processors.worker` (its metrics port is "
    "TALLY_WORKER__METRICS_PORT), or pass --metrics-url"
)
PROMETHEUS_HINT = "start it with `tally up --with-prometheus`, or use --source metrics"

# (metric sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class TopSnapshot:
    source: Source
    where: list[str]
    window_s: float
    events_per_s: float
    p99_sync_latency_s: dict[str, float | None]  # by channel; None: nothing synced in window
    consumer_lag: dict[str, float]  # by topic kind
    hold_decisions_per_s: dict[str, float]  # by outcome
    holds_expired: float | None  # total since start (metrics source only)
    oversells: float  # total
    dead_letters: float  # total
    dead_letters_per_s: float
    taken_at: float = field(default_factory=time.time)


def default_metrics_urls(settings: Settings) -> list[str]:
    return [f"http://127.0.0.1:{settings.worker.metrics_port}/metrics"]


def prometheus_url(settings: Settings) -> str:
    return f"http://{settings.prometheus.host}:{settings.prometheus.port}"


async def prometheus_up(settings: Settings) -> bool:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            response = await client.get(f"{prometheus_url(settings)}/-/ready")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


# --- from metrics endpoints ------------------------------------------------------------


def parse_samples(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = samples.get(key, 0.0) + float(sample.value)
    return samples


async def scrape(client: httpx.AsyncClient, urls: Sequence[str]) -> Samples:
    """Every endpoint's samples, summed (same name and labels) over the endpoints."""
    total: Samples = {}
    for url in urls:
        try:
            response = await client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            detail = f"{type(error).__name__}: {error}".strip()
            raise ServiceDown("worker metrics", url, detail, WORKER_HINT) from None
        for key, value in parse_samples(response.text).items():
            total[key] = total.get(key, 0.0) + value
    return total


async def from_metrics(urls: Sequence[str], interval_s: float) -> TopSnapshot:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        first = await scrape(client, urls)
        started = time.monotonic()
        await asyncio.sleep(interval_s)
        second = await scrape(client, urls)
        window_s = time.monotonic() - started
    return snapshot_between(first, second, window_s, list(urls))


def snapshot_between(
    first: Samples, second: Samples, window_s: float, urls: list[str]
) -> TopSnapshot:
    delta = {key: value - first.get(key, 0.0) for key, value in second.items()}
    decisions: dict[str, float] = defaultdict(float)
    for labels, value in _by_labels(delta, "tally_hold_decisions_total").items():
        decisions[dict(labels).get("outcome", "")] += value / window_s
    return TopSnapshot(
        source="metrics",
        where=urls,
        window_s=round(window_s, 3),
        events_per_s=_total(delta, "tally_events_folded_total") / window_s,
        p99_sync_latency_s=p99_by_channel(delta, second),
        consumer_lag={
            dict(labels).get("topic", ""): value
            for labels, value in _by_labels(second, "tally_consumer_lag_messages").items()
        },
        hold_decisions_per_s=dict(decisions),
        holds_expired=_total(second, "tally_holds_expired_total"),
        oversells=_total(second, "tally_oversells_total"),
        dead_letters=_total(second, "tally_dead_letters_total"),
        dead_letters_per_s=_total(delta, "tally_dead_letters_total") / window_s,
    )


def p99_by_channel(delta: Samples, current: Samples) -> dict[str, float | None]:
    """p99 per channel over the window; None for a channel with no sync in the window."""
    return quantile_by_channel(0.99, delta, current)


def quantile_by_channel(
    quantile: float, delta: Samples, current: Samples
) -> dict[str, float | None]:
    """A sync-latency quantile per channel over the window (None: no sync in the window)."""
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for labels, value in _by_labels(delta, "tally_sync_latency_seconds_bucket").items():
        pairs = dict(labels)
        buckets[pairs.get("channel", "")].append((float(pairs["le"]), value))
    channels = {
        dict(labels).get("channel", "")
        for labels in _by_labels(current, "tally_sync_latency_seconds_bucket")
    }
    return {
        channel: histogram_quantile(quantile, buckets.get(channel, []))
        for channel in sorted(channels)
    }


def histogram_quantile(quantile: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (upper bound, count) buckets."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = quantile * ordered[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def _by_labels(
    samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str
) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def _total(samples: Samples, name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


# --- from Prometheus ----------------------------------------------------------------------


Series = list[tuple[dict[str, str], float]]


async def query(client: httpx.AsyncClient, base_url: str, promql: str) -> Series:
    """An instant query: (labels, value) per series."""
    try:
        response = await client.get(f"{base_url}/api/v1/query", params={"query": promql})
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise ServiceDown("Prometheus", base_url, str(error), PROMETHEUS_HINT) from None
    body = response.json()
    return [
        (dict(item["metric"]), float(item["value"][1]))
        for item in body.get("data", {}).get("result", [])
    ]


async def from_prometheus(settings: Settings) -> TopSnapshot:
    base = prometheus_url(settings)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        p99 = await query(client, base, "tally:sync_latency_seconds:p99")
        events = await query(client, base, "sum(tally:events_folded:rate1m)")
        lag = await query(client, base, "tally:consumer_lag_messages:sum")
        holds = await query(client, base, "sum by (outcome) (tally:hold_decisions:rate1m)")
        oversells = await query(client, base, "sum(tally_oversells_total)")
        dead = await query(client, base, "sum(tally_dead_letters_total)")
        dead_rate = await query(client, base, "sum(tally:dead_letters:rate1m)")
    return TopSnapshot(
        source="prometheus",
        where=[base],
        window_s=60.0,
        events_per_s=_first(events),
        p99_sync_latency_s={
            labels.get("channel", ""): None if math.isnan(value) else value
            for labels, value in sorted(p99, key=lambda item: item[0].get("channel", ""))
        },
        consumer_lag={labels.get("topic", ""): value for labels, value in lag},
        hold_decisions_per_s={labels.get("outcome", ""): value for labels, value in holds},
        holds_expired=None,
        oversells=_first(oversells),
        dead_letters=_first(dead),
        dead_letters_per_s=_first(dead_rate),
    )


def _first(series: Series) -> float:
    return series[0][1] if series else 0.0
