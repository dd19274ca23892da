"""What every read command prints, with the reads faked: the exact `--json` body (keys,
nesting, value types, key order) and tables that keep every character when piped.

The reads themselves are checked against a real worker in test_cli_ledger.py; here each
command gets a report with the longest names the wire allows (64 characters), and its
output goes to a pipe (CliRunner), where rich would otherwise assume 80 columns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from base.redis_keys import FigureVersion
from base.settings import Settings, get_settings
from connectors.inspect.explain import Explanation, HoldTerm, LocationTerm
from connectors.inspect.history import Entry, HistoryPage
from connectors.inspect.published import Published
from connectors.inspect.stock import ChannelStock, LocationStock, StockReport
from connectors.inspect.top import TopSnapshot
from ops.cli import app
from ops.resync import ResyncReport
from ops.stack import ServiceStatus
from ops.stack.ports import free_port

SKU = "SKU-" + "S" * 60
WH = "warehouse-" + "W" * 54
STORE = "store-" + "T" * 58
WEB = "channel-" + "C" * 56
LOG_FILE = "/srv/" + "very-long-stack-home/" * 6 + "logs/kafka.log"
NOW_S = 1_700_000_100.0
PUBLISHED = Published(14, FigureVersion(7, 3), 1_700_000_000_000)
NOTHING = Published(None, None, None)
CLOCK = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
PUBLISHED_JSON = {"units": 14, "version": "7-3", "published_ms": 1700000000000, "age_s": 100.0}
NOTHING_JSON = {"units": None, "version": None, "published_ms": None, "age_s": None}


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ages are computed when printed: freeze "now" so they are known."""
    monkeypatch.setattr(time, "time", lambda: NOW_S)


def _fake(monkeypatch: pytest.MonkeyPatch, name: str, report: object) -> None:
    async def read(*args: Any, **kwargs: Any) -> object:
        return report

    monkeypatch.setattr(f"ops.cli_ledger.{name}", read)


def _invoke(*args: str) -> Result:
    get_settings.cache_clear()
    try:
        # COLUMNS as a narrow terminal would set it: a pipe must not be cut to it either.
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, f"{result.output}\n{result.stderr}"
    return result


def _assert_json(args: list[str], expected: object) -> None:
    body = json.loads(_invoke(*args, "--json").stdout)
    # Key order too: the same bytes as before the reports lost their hand-written as_dict.
    assert json.dumps(body) == json.dumps(expected)


def _assert_uncut(args: list[str], *names: str, rows: Sequence[tuple[str, ...]] = ()) -> str:
    out = _invoke(*args).stdout
    assert "…" not in out
    for name in names:
        assert name in out, name
    lines = out.splitlines()
    for row in rows:  # a row's cells on one line: nothing wrapped
        assert any(all(cell in line for cell in row) for line in lines), row
    return out


# --- stock ------------------------------------------------------------------------------


def _stock() -> StockReport:
    return StockReport(
        sku=SKU, known=True, version=FigureVersion(7, 3), clock=CLOCK, pending_holds=1,
        locations=[LocationStock(WH, 20, 3, 4, 1, 2, 1, 11, 5, PUBLISHED)],
        channels=[ChannelStock(WEB, 14, PUBLISHED), ChannelStock("pos", 0, NOTHING)],
    )  # fmt: skip


def test_stock_json(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "stock", _stock())
    location = {
        "location": WH, "on_hand": 20, "committed": 3, "reserved": 4, "damaged": 1,
        "inspection": 2, "unsellable": 3, "safety": 1, "available": 11, "incoming": 5,
        "published": PUBLISHED_JSON,
    }  # fmt: skip
    _assert_json(["stock", SKU], {
        "sku": SKU, "known": True, "version": "7-3",
        "clock": "2024-05-01T12:00:00.123000+00:00", "pending_holds": 1,
        "locations": [location],
        "channels": [
            {"channel": WEB, "ats": 14, "published": PUBLISHED_JSON},
            {"channel": "pos", "ats": 0, "published": NOTHING_JSON},
        ],
    })  # fmt: skip


def test_stock_table_is_not_cut_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "stock", _stock())
    _assert_uncut(["stock", SKU], SKU, rows=[(WH, "20", "11", "7-3", "1m40s"), (WEB, "14")])


# --- explain ----------------------------------------------------------------------------


def _explanation() -> Explanation:
    expires = CLOCK + timedelta(hours=1)
    return Explanation(
        channel=WEB, sku=SKU,
        locations=[
            LocationTerm(WH, 20, 3, 4, 1, 5, 12, 7, [HoldTerm("h1", WEB, 4, expires)]),
            LocationTerm(STORE, 1, 3, 0, 0, 2, -2, -2, [HoldTerm("h2", WEB, 1, None)]),
        ],
        sum_available=5, buffer=2, cap=10, ats=3, ledger_version=FigureVersion(7, 3),
        published=PUBLISHED, status="behind", note="the worker has not published it yet",
    )  # fmt: skip


def test_explain_json(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "explain", _explanation())
    hold = {"hold_id": "h1", "channel": WEB, "qty": 4,
            "expires_at": "2024-05-01T13:00:00.123000+00:00"}  # fmt: skip
    wh = {
        "location": WH, "on_hand": 20, "committed": 3, "reserved": 4, "unsellable": 1,
        "safety": 5, "safety_applied": 5, "free": 12, "available": 7, "oversold": False,
        "holds": [hold],
    }  # fmt: skip
    store = {
        "location": STORE, "on_hand": 1, "committed": 3, "reserved": 0, "unsellable": 0,
        "safety": 2, "safety_applied": 0, "free": -2, "available": -2, "oversold": True,
        "holds": [{"hold_id": "h2", "channel": WEB, "qty": 1, "expires_at": None}],
    }  # fmt: skip
    _assert_json(["explain", WEB, SKU], {
        "channel": WEB, "sku": SKU, "locations": [wh, store], "sum_available": 5,
        "buffer": 2, "cap": 10, "ats": 3, "ledger_version": "7-3",
        "published": PUBLISHED_JSON, "status": "behind",
        "note": "the worker has not published it yet",
    })  # fmt: skip


def test_explain_table_is_not_cut_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "explain", _explanation())
    _assert_uncut(
        ["explain", WEB, SKU], SKU, WEB, "the worker has not published it yet",
        rows=[(WH, "20", f"h1:4 ({WEB})"), (STORE, "0 (of 2)", "-2 oversold")],
    )  # fmt: skip


# --- history ----------------------------------------------------------------------------


def _history() -> HistoryPage:
    at = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    entries = [
        Entry(at, "event", "tally.events", 2, 41, "received", f"on_hand +20 at {WH}",
              "erp-" + "E" * 60, "evt-" + "1" * 60),
        Entry(at, "event", "tally.events", 2, 42, "received", "ignored: duplicate event_id",
              "erp-" + "E" * 60, "evt-" + "1" * 60, ignored=True),
    ]  # fmt: skip
    return HistoryPage(SKU, page=1, limit=2, total=3, truncated=False, entries=entries)


def test_history_json(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "history", _history())
    first = {
        "time": "2023-11-14T22:13:20.123000+00:00", "kind": "event",
        "topic": "tally.events", "partition": 2, "offset": 41, "what": "received",
        "effect": f"on_hand +20 at {WH}", "source": "erp-" + "E" * 60,
        "ref": "evt-" + "1" * 60, "ignored": False,
    }  # fmt: skip
    second = {**first, "offset": 42, "effect": "ignored: duplicate event_id", "ignored": True}
    _assert_json(["history", SKU], {
        "sku": SKU, "page": 1, "pages": 2, "limit": 2, "total": 3, "truncated": False,
        "entries": [first, second],
    })  # fmt: skip


def test_history_table_is_not_cut_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "history", _history())
    _assert_uncut(
        ["history", SKU], f"{SKU}: page 1 of 2",
        rows=[
            ("2023-11-14 22:13:20.123", f"on_hand +20 at {WH}", "erp-" + "E" * 60, "2:41"),
            ("ignored: duplicate event_id", "evt-" + "1" * 60, "2:42"),
        ],
    )  # fmt: skip


# --- top --------------------------------------------------------------------------------


def _top() -> TopSnapshot:
    return TopSnapshot(
        source="metrics", where=["http://127.0.0.1:9108/metrics"], window_s=2.0,
        events_per_s=1.5, p99_sync_latency_s={WEB: 0.0125, "pos": None},
        consumer_lag={"events": 3.0}, hold_decisions_per_s={"accepted": 0.5},
        holds_expired=None, oversells=1.0, dead_letters=0.0, dead_letters_per_s=0.0,
        taken_at=1_700_000_000.25,
    )  # fmt: skip


def _top_args() -> list[str]:
    return ["top", "--once", "--source", "metrics", "--metrics-url", "http://x/metrics"]


def test_top_json(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "from_metrics", _top())
    _assert_json(_top_args(), {
        "source": "metrics", "where": ["http://127.0.0.1:9108/metrics"], "window_s": 2.0,
        "events_per_s": 1.5, "p99_sync_latency_s": {WEB: 0.0125, "pos": None},
        "consumer_lag": {"events": 3.0}, "hold_decisions_per_s": {"accepted": 0.5},
        "holds_expired": None, "oversells": 1.0, "dead_letters": 0.0,
        "dead_letters_per_s": 0.0, "taken_at": 1700000000.25,
    })  # fmt: skip


def test_top_table_is_not_cut_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "from_metrics", _top())
    _assert_uncut(_top_args(), "http://127.0.0.1:9108/metrics", rows=[(WEB, "12.5 ms")])


# --- resync and status ------------------------------------------------------------------


def test_resync_json(monkeypatch: pytest.MonkeyPatch) -> None:
    report = ResyncReport("tally-positions-changelog", 4, 2, 0, 6, 3, 3, 9, 0.125, [])
    _fake(monkeypatch, "resync", report)
    _assert_json(["resync"], {
        "changelog": "tally-positions-changelog", "partitions": 4, "skus": 2,
        "unreadable": 0, "figures": 6, "written": 3, "current": 3, "policy_version": 9,
        "seconds": 0.125, "unsettled": [],
    })  # fmt: skip


def _status(monkeypatch: pytest.MonkeyPatch) -> None:
    services = [ServiceStatus("kafka", True, 12, (9092, 9093), True, LOG_FILE, ("/d",))]
    fake: Callable[[Settings], list[ServiceStatus]] = lambda settings: services  # noqa: E731
    monkeypatch.setattr("ops.cli.stack_status", fake)


def test_status_json(monkeypatch: pytest.MonkeyPatch) -> None:
    _status(monkeypatch)
    _assert_json(["status"], [{
        "name": "kafka", "running": True, "pid": 12, "ports": [9092, 9093], "ready": True,
        "log_file": LOG_FILE, "data_dirs": ["/d"],
    }])  # fmt: skip


def test_status_table_is_not_cut_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    _status(monkeypatch)
    _assert_uncut(["status"], rows=[("kafka", "running", "9092,9093", LOG_FILE)])


def test_a_service_down_is_a_json_body_too() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    result = CliRunner().invoke(app, [*_top_args()[:4], "--metrics-url", url, "--json"])
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert list(body) == ["error", "service", "address", "detail", "hint"]
    assert body["error"] == "service_down"
    assert (body["service"], body["address"]) == ("worker metrics", url)
    assert "processors.worker" in body["hint"]
    assert all(isinstance(value, str) for value in body.values())
    assert result.stderr == f"error: worker metrics is not reachable at {url} " + (
        f"({body['detail']}); {body['hint']}\n"
    )
