"""The promise's bad input, refused by name: a location in an unknown time zone (skipped by
every reader of the policy topic, the book kept) and a delivery day that cannot be (in the
future, or older than a report can be late)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from base.policy_log import PolicyLog
from ledger import limits
from ledger.codec import decode_policy, encode
from ledger.errors import DecodeError
from ledger.orders.records import MarkDelivered, delivery_day_refused
from ledger.policy import LocationPolicy

REPORTED = datetime(2026, 12, 10, 23, 30, tzinfo=UTC)


def location_body(zone: str) -> bytes:
    record = LocationPolicy(location="dc", version=1, updated_at=REPORTED)
    return orjson.dumps({**orjson.loads(encode(record)), "time_zone": zone})


def test_a_location_in_an_unknown_time_zone_is_refused_by_name() -> None:
    with pytest.raises(DecodeError, match="time_zone: unknown IANA time zone 'Mars/Base'"):
        decode_policy(location_body("Mars/Base"))
    kept = decode_policy(location_body("America/New_York"))
    assert isinstance(kept, LocationPolicy) and kept.time_zone == "America/New_York"


def test_the_policy_follower_skips_an_unknown_zone_and_keeps_the_location() -> None:
    log = PolicyLog()
    assert log.apply(0, location_body("America/New_York")) is None
    refused = log.apply(1, location_body("Mars/Base"))
    assert isinstance(refused, DecodeError) and "Mars/Base" in str(refused)
    assert log.version == 2  # the version moves: the worker goes on with the next record
    assert log.book.locations["dc"].time_zone == "America/New_York"


def delivered(day: date) -> MarkDelivered:
    return MarkDelivered(ref="web:1001", issued_at=REPORTED, location="dc", delivered_on=day)


def test_a_delivery_day_in_the_future_is_refused() -> None:
    # the shopper's day may run a day ahead of UTC's (UTC+14 at 23:30 UTC is the next day)
    assert delivered(date(2026, 12, 11)).delivered_on == date(2026, 12, 11)
    with pytest.raises(ValidationError, match="after 2026-12-11: a delivery day in the future"):
        delivered(date(2026, 12, 12))


def test_a_delivery_reported_too_late_is_refused() -> None:
    oldest = REPORTED.date() - timedelta(days=limits.DELIVERY_REPORT_DAYS_MAX)
    assert delivered(oldest).delivered_on == oldest
    with pytest.raises(ValidationError, match="reported more than 90 days after the delivery"):
        delivered(oldest - timedelta(days=1))
    assert delivery_day_refused(date(2016, 12, 10), REPORTED.date()) == (
        "before 2026-09-11: reported more than 90 days after the delivery"
    )
