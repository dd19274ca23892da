"""Pure parts of the on-call CLI: quantiles from buckets, status of a published figure."""

from __future__ import annotations

import math

from base.redis_keys import FigureVersion
from base.settings import Settings
from base.topics import changelog_topic
from connectors.inspect.explain import _compare
from connectors.inspect.published import Published
from connectors.inspect.top import histogram_quantile, parse_samples, snapshot_between


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == 0.1
    p99 = histogram_quantile(0.99, buckets)  # rank 99 in (0.5, 1.0]: 0.5 + 0.5 * 9/10
    assert p99 is not None
    assert math.isclose(p99, 0.95)
    assert histogram_quantile(0.99, []) is None
    assert histogram_quantile(0.99, [(0.1, 0.0), (math.inf, 0.0)]) is None
    assert histogram_quantile(0.99, [(0.1, 0.0), (math.inf, 3.0)]) == 0.1  # all above the top


def test_snapshot_rates_and_p99_from_two_scrapes() -> None:
    def text(folded: int, fast: int, slow: int) -> str:
        return (
            f'tally_events_folded_total{{type="received",outcome="applied"}} {folded}\n'
            f'tally_sync_latency_seconds_bucket{{channel="web",le="0.01"}} {fast}\n'
            f'tally_sync_latency_seconds_bucket{{channel="web",le="1.0"}} {fast + slow}\n'
            f'tally_sync_latency_seconds_bucket{{channel="web",le="+Inf"}} {fast + slow}\n'
            'tally_consumer_lag_messages{topic="events"} 7\n'
        )

    first, second = parse_samples(text(100, 10, 0)), parse_samples(text(300, 110, 0))
    snapshot = snapshot_between(first, second, 2.0, ["u"])
    assert snapshot.events_per_s == 100.0
    assert snapshot.p99_sync_latency_s["web"] is not None
    assert snapshot.p99_sync_latency_s["web"] <= 0.01
    assert snapshot.consumer_lag == {"events": 7.0}
    idle = snapshot_between(second, second, 2.0, ["u"])
    assert idle.p99_sync_latency_s == {"web": None}


def test_changelog_topic_follows_the_app_id() -> None:
    assert changelog_topic(Settings()) == "tally-positions-changelog"


def test_compare_names_current_behind_ahead_and_missing() -> None:
    ledger = FigureVersion(5, 2)
    assert _compare(7, ledger, Published(7, FigureVersion(4, 2), 1))[0] == "current"
    assert _compare(7, ledger, Published(9, FigureVersion(4, 2), 1))[0] == "behind"
    assert _compare(7, ledger, Published(6, FigureVersion(6, 2), 1))[0] == "ahead"
    assert _compare(7, ledger, Published(None, None, None))[0] == "not_published"
