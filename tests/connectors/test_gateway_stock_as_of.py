"""`GET /v1/stock/{sku}?at=TIME` with the event log faked: who may ask, what `at` may be, and
the reply (a channel key sees its own channel only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from base.settings import Settings
from connectors.gateway import create_app
from tests.connectors.test_gateway_fakes import (
    FakeBus,
    FakeCatalog,
    FakeHistory,
    FakeReads,
    Keys,
    make_keys,
)

THEN = datetime(2026, 12, 5, 10, 37, 39, tzinfo=UTC)


class AsOf:
    def __init__(self, client: TestClient, history: FakeHistory, keys: Keys) -> None:
        self.client, self.history, self.keys = client, history, keys

    def get(self, who: str, sku: str = "SKU-1", **params: str) -> Any:
        return self.client.get(f"/v1/stock/{sku}", params=params, headers=self.keys.bearer(who))


@pytest.fixture
def as_of(tmp_path: Path) -> Iterator[AsOf]:
    keys, history = make_keys(tmp_path / "keys.json"), FakeHistory()
    app = create_app(
        Settings(),
        bus=FakeBus(),
        reads=FakeReads(),
        keys=keys.store,
        catalog=FakeCatalog(),
        history=history,
    )
    with TestClient(app) as client:
        yield AsOf(client, history, keys)


def test_an_admin_gets_the_sku_as_of_the_time_with_every_channel(as_of: AsOf) -> None:
    response = as_of.get("admin", at=THEN.isoformat())
    assert response.status_code == 200, response.text
    body = response.json()
    assert as_of.history.asked == [("SKU-1", THEN)]
    assert (body["sku"], body["at"], body["known"], body["version"]) == (
        "SKU-1",
        "2026-12-05T10:37:39Z",
        True,
        "12-3",
    )
    assert (body["complete"], body["records"], body["decisions_checked"]) == (True, 12, 2)
    assert body["locations"] == [
        {"location": "store-1", "on_hand": 5, "committed": 1, "reserved": 0, "damaged": 0,
         "inspection": 0, "safety": 0, "available": 4, "incoming": 0},
    ]  # fmt: skip
    assert body["channels"] == [
        {"channel": "pos", "ats": 0, "stranded_units": 4},
        {"channel": "web", "ats": 4, "stranded_units": 0},
    ]


def test_a_channel_key_sees_its_own_channel_and_a_scanner_key_nothing(as_of: AsOf) -> None:
    body = as_of.get("web", at=THEN.isoformat()).json()
    assert body["channels"] == [{"channel": "web", "ats": 4, "stranded_units": 0}]
    assert len(body["locations"]) == 1
    refused = as_of.get("scanner", at=THEN.isoformat())
    assert refused.status_code == 403
    assert len(as_of.history.asked) == 1


def test_a_time_without_offset_is_utc(as_of: AsOf) -> None:
    as_of.get("admin", at="2026-12-05T10:37:39")
    assert as_of.history.asked == [("SKU-1", THEN)]


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("1999-12-31T23:59:59Z", "at: before 2000-01-01T00:00:00+00:00"),
        (
            (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
            "at: more than 300 s after the gateway's clock",
        ),
    ],
)
def test_a_time_out_of_bounds_is_refused_and_nothing_is_read(
    as_of: AsOf, at: str, reason: str
) -> None:
    response = as_of.get("admin", at=at)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"index": None, "field": "query.at", "reason": reason}]
    assert as_of.history.asked == []


def test_at_is_required_and_a_bad_sku_refused(as_of: AsOf) -> None:
    assert as_of.get("admin").status_code == 422
    response = as_of.get("admin", sku="bad sku!", at=THEN.isoformat())
    assert response.status_code == 422
    assert as_of.history.asked == []


def test_the_log_unreadable_is_503(as_of: AsOf) -> None:
    as_of.history.down = True
    response = as_of.get("admin", at=THEN.isoformat())
    assert response.status_code == 503
    assert "event log" in response.json()["detail"]
