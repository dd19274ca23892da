"""The dates of one shipment: the day it ships, the day it is delivered, or when a pickup is
ready, from the location's calendar and the channel's shipping bands and delivery days.

    ship to a point       ships on the location's ship day; delivered after the transit days
                          of the distance band (`ChannelPolicy.shipping_bands`), on delivery days
    pick up where it is   ready when processed at that location (its calendar)
    ship to a store       delivered to the store as above; ready once the store has processed
                          it, counted from the start of the delivery day there

Units that wait on supply count from their ETA instead of the order's time (`start`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ledger.policy import DEFAULT_BANDS, DELIVERY_DAYS, ChannelPolicy, PolicyBook
from ledger.promise.calendar import Calendar, delivery_day, ready, weekday_numbers
from ledger.sourcing.geo import UNKNOWN_KM, haversine_km

Point = tuple[float, float]  # (latitude, longitude)


@dataclass(frozen=True, slots=True)
class ShipmentDates:
    ship_on: date
    deliver_on: date | None  # to the shopper, or to the pickup store (ship-to-store)
    ready_at: datetime | None  # pickup orders: when the shopper may collect it (UTC)

    @property
    def arrives_on(self) -> date:
        """The day the shopper has it (delivered, or ready to collect): what ranks plans."""
        if self.ready_at is not None:
            return self.ready_at.date()
        return self.deliver_on if self.deliver_on is not None else self.ship_on


def shipment_dates(
    book: PolicyBook,
    channel: ChannelPolicy | None,
    location: str,
    start: datetime,
    destination: Point | None,
    pickup: str | None,
) -> ShipmentDates:
    """The dates of a shipment from `location` that can start at `start` (the order's time,
    or the ETA of the supply it waits on)."""
    calendar = Calendar.of(book.locations.get(location))
    if pickup == location:
        done = ready(calendar, start)
        return ShipmentDates(done.day, None, done.at)
    ships = ready(calendar, start).day
    target = destination if destination is not None else _where(book, pickup)
    km = _km(book, location, target)
    delivered = delivery_day(ships, transit_days(channel, km), delivery_weekdays(channel))
    if pickup is None:
        return ShipmentDates(ships, delivered, None)
    store = Calendar.of(book.locations.get(pickup))
    return ShipmentDates(ships, delivered, ready(store, store.start_of(delivered)).at)


def transit_days(channel: ChannelPolicy | None, km: float) -> int:
    bands = DEFAULT_BANDS if channel is None else channel.shipping_bands
    for band in bands:
        if band.up_to_km is None or km <= band.up_to_km:
            return band.transit()
    return bands[-1].transit()


def delivery_weekdays(channel: ChannelPolicy | None) -> frozenset[int]:
    return weekday_numbers(DELIVERY_DAYS if channel is None else channel.delivery_days)


def _where(book: PolicyBook, location: str | None) -> Point | None:
    record = None if location is None else book.locations.get(location)
    return None if record is None else record.coordinates


def _km(book: PolicyBook, location: str, target: Point | None) -> float:
    here = _where(book, location)
    if here is None or target is None:
        return UNKNOWN_KM
    return haversine_km(here, target)
