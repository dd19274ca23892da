"""A location's calendar: when an order is ready, the day it ships, the day it is delivered.

Pure, on `zoneinfo`. Every instant is an aware datetime and all arithmetic on instants is
done in UTC (elapsed time), so a daylight-saving change never adds or loses an hour of
processing; only days, open days and the cut-off are read in the location's own zone.

    counts from    an order placed on an open day at or before its cut-off (local) counts
                   from that moment; otherwise from the start (00:00 local) of the next open
                   day
    ready          `processing_minutes` of open-day time after it counts (a closed day or a
                   holiday adds none); the pickup-ready time
    ships on       the open day on which it is ready
    delivered on   the ship day plus the transit days of its distance band, each a delivery
                   day of the channel (`delivery_days`); a ship day that is not one waits
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ledger.errors import InvariantBroken
from ledger.policy import WEEKDAYS, LocationPolicy, Weekday

DAY = timedelta(days=1)
# Days searched for the next open day: a week past the longest run of holidays a record
# may hold (ledger.limits.HOLIDAYS_MAX), so a location open on some weekday always finds one.
_OPEN_DAY_SEARCH_MAX = 366 + 7


@dataclass(frozen=True, slots=True)
class Calendar:
    """What the promise dates of one location depend on."""

    zone: ZoneInfo
    open_weekdays: frozenset[int]  # date.weekday(): Monday 0
    holidays: frozenset[date]
    cutoff: time | None  # local; None: any time of an open day counts that day
    processing: timedelta

    @classmethod
    def of(cls, record: LocationPolicy | None) -> Calendar:
        """The calendar of a location's record (none: UTC, open every day, no processing)."""
        if record is None:
            return ALWAYS_OPEN
        cutoff = None
        if record.cutoff_local is not None:
            hours, minutes = record.cutoff_local.split(":")
            cutoff = time(int(hours), int(minutes))
        return cls(
            zone=ZoneInfo(record.time_zone),
            open_weekdays=weekday_numbers(record.open_days),
            holidays=frozenset(record.holidays),
            cutoff=cutoff,
            processing=timedelta(minutes=record.processing_minutes),
        )

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.open_weekdays and day not in self.holidays

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def start_of(self, day: date) -> datetime:
        """00:00 local of `day`, as a UTC instant."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def next_open_day(self, after: date) -> date:
        """The first open day strictly after `after`."""
        day = after
        for _ in range(_OPEN_DAY_SEARCH_MAX):
            day += DAY
            if self.is_open(day):
                return day
        raise InvariantBroken(f"no open day within {_OPEN_DAY_SEARCH_MAX} days of {after}")


ALWAYS_OPEN = Calendar(
    zone=ZoneInfo("UTC"),
    open_weekdays=frozenset(range(7)),
    holidays=frozenset(),
    cutoff=None,
    processing=timedelta(0),
)


def weekday_numbers(days: tuple[Weekday, ...]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(day) for day in days)


@dataclass(frozen=True, slots=True)
class Ready:
    """When an order is ready at a location (UTC) and the local open day it is ready on."""

    at: datetime
    day: date


def counts_from(calendar: Calendar, at: datetime) -> datetime:
    """When an order placed at `at` starts being processed (see the module docstring)."""
    day = calendar.local_day(at)
    if calendar.is_open(day) and not _after_cutoff(calendar, day, at):
        return at.astimezone(UTC)
    return calendar.start_of(calendar.next_open_day(day))


def _after_cutoff(calendar: Calendar, day: date, at: datetime) -> bool:
    if calendar.cutoff is None:
        return False
    cutoff = datetime.combine(day, calendar.cutoff, tzinfo=calendar.zone)
    return at > cutoff


def ready(calendar: Calendar, at: datetime) -> Ready:
    """An order placed at `at` (or whose units arrive then) is ready: processing done."""
    moment = counts_from(calendar, at)
    day = calendar.local_day(moment)
    left = calendar.processing
    for _ in range(_OPEN_DAY_SEARCH_MAX + 7 + left.days):
        end = calendar.start_of(day + DAY)
        if moment + left <= end:
            return Ready(moment + left, day)
        left -= end - moment
        day = calendar.next_open_day(day)
        moment = calendar.start_of(day)
    raise InvariantBroken(f"processing of {calendar.processing} never ends after {at}")


def ship_day(calendar: Calendar, at: datetime) -> date:
    """The local day an order placed at `at` ships."""
    return ready(calendar, at).day


def delivery_day(shipped_on: date, transit_days: int, delivery_weekdays: frozenset[int]) -> date:
    """`transit_days` delivery days after `shipped_on` (0: that day, if it is one)."""
    if not delivery_weekdays:
        raise InvariantBroken("a channel delivers on no day")
    day = shipped_on
    left = transit_days
    while left > 0 or day.weekday() not in delivery_weekdays:
        day += DAY
        if day.weekday() in delivery_weekdays:
            left -= 1
    return day
