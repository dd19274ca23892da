"""The promise calendar: cut-off (13:59 vs 14:01), weekends, holidays, a time-zone boundary,
daylight-saving changes, processing over closed days, and delivery days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import ChannelPolicy, LocationPolicy, ShippingBandRecord
from ledger.promise.calendar import (
    Calendar,
    counts_from,
    delivery_day,
    ready,
    ship_day,
    weekday_numbers,
)

NEW_YORK = ZoneInfo("America/New_York")
MON_FRI: tuple[Any, ...] = ("mon", "tue", "wed", "thu", "fri")
MON_SAT = weekday_numbers(("mon", "tue", "wed", "thu", "fri", "sat"))


def location(**fields: Any) -> LocationPolicy:
    base: dict[str, Any] = {
        "location": "dc",
        "version": 1,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "time_zone": "America/New_York",
        "cutoff_local": "14:00",
        "open_days": MON_FRI,
    }
    return LocationPolicy(**{**base, **fields})


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# 2026-12-02 is a Wednesday; 2026-12-04 a Friday.


def test_an_order_a_minute_before_the_cutoff_ships_today_and_one_after_tomorrow() -> None:
    cal = Calendar.of(location())
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 2, 13, 59)) == date(2026, 12, 2)
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 2, 14, 0)) == date(2026, 12, 2)
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 2, 14, 1)) == date(2026, 12, 3)


def test_after_the_cutoff_on_friday_ships_monday() -> None:
    cal = Calendar.of(location())
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 4, 14, 1)) == date(2026, 12, 7)
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 5, 9, 0)) == date(2026, 12, 7)  # Saturday


def test_a_holiday_is_skipped_like_a_weekend() -> None:
    cal = Calendar.of(location(holidays=(date(2026, 12, 25),)))  # a Friday
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 24, 15, 0)) == date(2026, 12, 28)
    assert ship_day(cal, local(NEW_YORK, 2026, 12, 25, 10, 0)) == date(2026, 12, 28)


def test_processing_time_counts_only_on_open_days() -> None:
    cal = Calendar.of(location(processing_minutes=120, cutoff_local="14:00"))
    placed = local(NEW_YORK, 2026, 12, 2, 13, 59)
    assert ready(cal, placed).at == local(NEW_YORK, 2026, 12, 2, 15, 59)
    # A day and a half of processing from Friday noon: Friday's 12 h, then Monday's 24 h,
    # ends Tuesday 00:00 (the end of Monday: it ships Monday), not over the weekend.
    long = Calendar.of(location(processing_minutes=36 * 60, cutoff_local=None))
    done = ready(long, local(NEW_YORK, 2026, 12, 4, 12, 0))
    assert done.at == local(NEW_YORK, 2026, 12, 8, 0, 0)
    assert done.day == date(2026, 12, 7)
    assert ship_day(long, local(NEW_YORK, 2026, 12, 4, 12, 1)) == date(2026, 12, 8)


def test_pickup_ready_after_the_cutoff_starts_the_next_open_day() -> None:
    cal = Calendar.of(location(processing_minutes=90))
    assert ready(cal, local(NEW_YORK, 2026, 12, 2, 10, 0)).at == local(
        NEW_YORK, 2026, 12, 2, 11, 30
    )
    assert ready(cal, local(NEW_YORK, 2026, 12, 2, 16, 0)).at == local(NEW_YORK, 2026, 12, 3, 1, 30)


def test_the_same_instant_is_friday_in_los_angeles_and_saturday_in_berlin() -> None:
    instant = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)  # Fri 17:30 PST, Sat 02:30 CET
    los_angeles = Calendar.of(location(time_zone="America/Los_Angeles", cutoff_local="18:00"))
    berlin = Calendar.of(location(time_zone="Europe/Berlin", cutoff_local="18:00"))
    assert ship_day(los_angeles, instant) == date(2026, 12, 4)
    assert ship_day(berlin, instant) == date(2026, 12, 7)
    # UTC's own calendar: Saturday, closed
    assert ship_day(Calendar.of(location(time_zone="UTC")), instant) == date(2026, 12, 7)


def test_spring_forward_keeps_processing_in_elapsed_hours() -> None:
    # 2026-03-08 (Sunday) 02:00 EST -> 03:00 EDT; open every day here
    every_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    cal = Calendar.of(location(open_days=every_day, processing_minutes=120, cutoff_local=None))
    done = ready(cal, local(NEW_YORK, 2026, 3, 8, 0, 30))
    assert done.at == local(NEW_YORK, 2026, 3, 8, 3, 30)  # two real hours, 00:30 EST + 2 h
    assert done.at - local(NEW_YORK, 2026, 3, 8, 0, 30) == timedelta(hours=2)
    # the 23-hour day: 22 hours of processing from 01:00 ends at 00:00 the next day
    day_long = Calendar.of(
        location(open_days=every_day, processing_minutes=22 * 60, cutoff_local=None)
    )
    late = ready(day_long, local(NEW_YORK, 2026, 3, 8, 1, 0))
    assert late.at == local(NEW_YORK, 2026, 3, 9, 0, 0) and late.day == date(2026, 3, 8)


def test_fall_back_cutoff_is_read_on_the_local_clock() -> None:
    # 2026-11-01 (Sunday) 02:00 EDT -> 01:00 EST: a 25-hour day
    every_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    cal = Calendar.of(location(open_days=every_day, cutoff_local="14:00"))
    before = datetime(2026, 11, 1, 18, 59, tzinfo=UTC)  # 13:59 EST
    after = datetime(2026, 11, 1, 19, 1, tzinfo=UTC)  # 14:01 EST
    assert ship_day(cal, before) == date(2026, 11, 1)
    assert ship_day(cal, after) == date(2026, 11, 2)
    assert counts_from(cal, after) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 00:00 EST


def test_a_location_without_a_record_ships_the_same_day() -> None:
    cal = Calendar.of(None)
    instant = datetime(2026, 12, 5, 23, 59, tzinfo=UTC)
    assert ship_day(cal, instant) == date(2026, 12, 5)
    assert ready(cal, instant).at == instant


def test_delivery_days_skip_sundays_by_default() -> None:
    saturday = date(2026, 12, 5)
    assert delivery_day(date(2026, 12, 4), 1, MON_SAT) == saturday
    assert delivery_day(saturday, 1, MON_SAT) == date(2026, 12, 7)
    assert delivery_day(saturday, 0, MON_SAT) == saturday
    assert delivery_day(date(2026, 12, 6), 0, MON_SAT) == date(2026, 12, 7)  # shipped on Sunday
    weekdays = weekday_numbers(MON_FRI)
    assert delivery_day(date(2026, 12, 3), 3, weekdays) == date(2026, 12, 8)


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.integers(0, 60 * 24 * 30),
    processing=st.integers(0, 3 * 24 * 60),
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"]),
)
def test_ready_is_never_before_the_order_and_lands_on_an_open_day(
    minutes: int, processing: int, zone: str
) -> None:
    record = location(time_zone=zone, processing_minutes=processing, holidays=(date(2026, 3, 9),))
    cal = Calendar.of(record)
    placed = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    done = ready(cal, placed)
    assert done.at >= placed + timedelta(minutes=processing)
    assert cal.is_open(done.day)
    assert cal.local_day(done.at - timedelta(microseconds=1)) <= done.day <= cal.local_day(done.at)


@pytest.mark.parametrize("transit", [0, 1, 2, 5])
def test_delivery_is_never_before_shipping(transit: int) -> None:
    for offset in range(14):
        shipped = date(2026, 12, 1) + timedelta(days=offset)
        delivered = delivery_day(shipped, transit, MON_SAT)
        assert delivered >= shipped + timedelta(days=transit)
        assert delivered.weekday() != 6


def test_a_band_without_transit_days_takes_them_from_its_distance() -> None:
    bands = [ShippingBandRecord(up_to_km=km, cents=100) for km in (40, 250, 900, None)]
    assert [band.transit() for band in bands] == [1, 2, 3, 5]
    assert ShippingBandRecord(up_to_km=40, cents=100, transit_days=0).transit() == 0


def test_a_channel_delivers_monday_to_saturday_unless_it_says() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    policy = ChannelPolicy(channel="web", locations=("dc",), version=1, updated_at=now)
    assert policy.delivery_days == ("mon", "tue", "wed", "thu", "fri", "sat")
    with pytest.raises(ValueError, match="delivery_days: listed twice"):
        ChannelPolicy(
            channel="web", locations=(), delivery_days=("mon", "mon"), version=1, updated_at=now
        )
