"""The gateway's promise reads, with Kafka and Redis faked: availability on a day ahead
(`?by=`), its bounds, and what it answers with nothing expected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from base.horizons import horizon_json
from ledger.promise.atp import Horizon
from tests.connectors.test_gateway import Gateway, build

TODAY = datetime.now(UTC).date()


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    yield from build(tmp_path)


def by(gw: Gateway, when: date, sku: str = "SKU-1") -> dict[str, object]:
    reply = gw.get(f"/v1/availability/web/{sku}", "web", params={"by": when.isoformat()})
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_a_sold_out_sku_shows_its_receipt_date(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 0
    horizon = Horizon(day(0), day(14), ((day(0), 0), (day(3), 10)))
    gw.reads.horizons[("web", "SKU-1")] = horizon_json(horizon)
    assert by(gw, day(2))["available"] == 0
    on_the_day = by(gw, day(3))
    assert on_the_day == {
        "channel": "web",
        "sku": "SKU-1",
        "available": 10,
        "version": "2-1",
        "by": day(3).isoformat(),
        "through": day(14).isoformat(),
    }
    # without ?by= the reply is today's figure, shaped as before
    today = gw.get("/v1/availability/web/SKU-1", "web").json()
    assert today == {"channel": "web", "sku": "SKU-1", "available": 0, "version": "1-1"}


def test_with_nothing_expected_every_day_is_todays_figure(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 4
    assert by(gw, day(5))["available"] == 4
    gw.reads.horizons[("web", "SKU-1")] = horizon_json(Horizon(day(0), day(14), ()))
    assert by(gw, day(5)) == {
        "channel": "web",
        "sku": "SKU-1",
        "available": 4,
        "version": "1-1",
        "by": day(5).isoformat(),
    }


def test_an_unreadable_horizon_falls_back_to_today(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 2
    gw.reads.horizons[("web", "SKU-1")] = '{"first": "not a day"}'
    assert by(gw, day(1))["available"] == 2


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (day(-2), f"before {day(-1).isoformat()}: availability by date looks ahead only"),
        (day(15), f"after {day(14).isoformat()}: beyond the 15-day horizon"),
    ],
)
def test_a_date_out_of_range_is_refused_by_name(gw: Gateway, when: date, reason: str) -> None:
    reply = gw.get("/v1/availability/web/SKU-1", "web", params={"by": when.isoformat()})
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"index": None, "field": "query.by", "reason": reason}]


def test_a_date_that_is_not_one_is_refused(gw: Gateway) -> None:
    reply = gw.get("/v1/availability/web/SKU-1", "web", params={"by": "2026-02-30"})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "query.by"
