"""The bench reads a worker's progress from its /metrics, asking for the progress counters only."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from devtools.bench.env import worker_progress
from ops.stack.ports import free_port


@pytest.fixture
def metrics_port() -> Iterator[tuple[int, CollectorRegistry]]:
    registry = CollectorRegistry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port, registry
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_progress_is_folded_events_plus_hold_decisions(
    metrics_port: tuple[int, CollectorRegistry],
) -> None:
    port, registry = metrics_port
    folded = Counter("tally_events_folded", "", ["kind"], registry=registry)
    decided = Counter("tally_hold_decisions", "", ["outcome"], registry=registry)
    other = Counter("tally_published_figures", "", registry=registry)
    folded.labels("receipt").inc(30)
    folded.labels("sale").inc(12)
    decided.labels("accepted").inc(5)
    other.inc(1000)  # not progress
    assert worker_progress(port) == 47


def test_progress_read_leaves_out_the_other_metrics(
    metrics_port: tuple[int, CollectorRegistry],
) -> None:
    port, registry = metrics_port
    Counter("tally_events_folded", "", registry=registry).inc(3)
    latency = Histogram("tally_sync_latency_seconds", "", ["scope"], registry=registry)
    for scope in ("web", "pos", "marketplace"):
        latency.labels(scope).observe(0.01)
    rendered: list[str] = []
    opener = urllib.request.urlopen

    def recording(url: str, timeout: float) -> object:
        with opener(url, timeout=timeout) as response:
            body: bytes = response.read()
        rendered.append(body.decode())
        return _Replay(body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(urllib.request, "urlopen", recording)
        assert worker_progress(port) == 3
    assert "tally_events_folded_total 3.0" in rendered[0]
    assert "tally_sync_latency_seconds" not in rendered[0]


class _Replay:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def __enter__(self) -> _Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self) -> bytes:
        return self._body
