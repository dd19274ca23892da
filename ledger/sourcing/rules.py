"""The sourcing rules: filters that drop candidates, and scores that rank them (lower wins).

Each is a pure function of a candidate and the request, so its value is also the explanation
of why one candidate beat the next.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.sourcing.candidates import Candidate, available
from ledger.sourcing.geo import UNKNOWN_KM, band_cents, haversine_km
from ledger.sourcing.model import PlanRequest, RuleName, Score

Filter = Callable[[Candidate, PlanRequest], bool]
Scorer = Callable[[Candidate, PlanRequest], Score]


def _pickup_location_only(candidate: Candidate, request: PlanRequest) -> bool:
    """A pickup order is filled at its pickup location alone (no ship-to-store)."""
    if request.pickup_location is None:
        return True
    return candidate.locations == (request.pickup_location,)


def _within_capacity(candidate: Candidate, request: PlanRequest) -> bool:
    """No new location that has no order capacity left today."""
    return _full_new_locations(candidate, request) == 0


def _full_new_locations(candidate: Candidate, request: PlanRequest) -> int:
    full = 0
    for location in candidate.new_locations:
        left = request.sites[location].capacity_left
        if left is not None and left <= 0:
            full += 1
    return full


def _shipments(candidate: Candidate, request: PlanRequest) -> Score:
    return len(candidate.locations)


def distance_km(request: PlanRequest, location: str) -> float:
    """From `location` to where the order goes (the pickup store for a ship-to-store)."""
    site = request.sites[location]
    target = request.destination
    if target is None and request.pickup_location is not None:
        pickup = request.sites.get(request.pickup_location)
        if pickup is not None and pickup.latitude is not None and pickup.longitude is not None:
            target = (pickup.latitude, pickup.longitude)
    if location == request.pickup_location and request.destination is None:
        return 0.0
    if target is None or site.latitude is None or site.longitude is None:
        return UNKNOWN_KM
    return haversine_km((site.latitude, site.longitude), target)


def _total_km(candidate: Candidate, request: PlanRequest) -> Score:
    return round(sum(distance_km(request, loc) for loc in candidate.locations))


def shipment_cost_cents(request: PlanRequest, location: str, units: int) -> int:
    """One shipment of `units` from `location`: the location's handling per order and per
    unit, plus the channel's shipping band by distance (none when the order is handed over
    where it is picked up; an unknown distance pays the last band)."""
    site = request.sites[location]
    handed_over = location == request.pickup_location and not request.destination
    km = distance_km(request, location)
    shipping = 0 if handed_over else band_cents(request.shipping_bands, km)
    return site.handling_per_order_cents + site.handling_per_unit_cents * units + shipping


def _cost_cents(candidate: Candidate, request: PlanRequest) -> Score:
    return sum(shipment_cost_cents(request, s.location, s.units) for s in candidate.shipments)


def _stock_depth(candidate: Candidate, request: PlanRequest) -> Score:
    depth = sum(
        available(request, line.sku, location)
        for location in candidate.locations
        for line in request.lines
    )
    return -depth


_NO_DATE = 10**7  # past any date's ordinal (date.max is 3,652,059)


def _latest_arrival(candidate: Candidate, request: PlanRequest) -> Score:
    """When the whole order has arrived (its last shipment), then the sum of the days (day
    ordinals): the earliest complete delivery wins. A shipment waiting on supply arrives as
    its site says it would from that supply's ETA."""
    waits = {s.location: s.waits_until for s in candidate.shipments if s.waits_until}
    ordinals = []
    for location in candidate.locations:
        site = request.sites[location]
        day = site.arrives_on
        if location in waits:
            day = dict(site.arrivals).get(waits[location])
        ordinals.append(_NO_DATE if day is None else day.toordinal())
    return (max(ordinals), sum(ordinals))


def _priorities(candidate: Candidate, request: PlanRequest) -> Score:
    return tuple(sorted(request.sites[loc].priority for loc in candidate.locations))


FILTERS: dict[RuleName, Filter] = {
    "pickup_location_only": _pickup_location_only,
    "exclude_over_capacity": _within_capacity,
}
SCORERS: dict[RuleName, Scorer] = {
    "prefer_capacity": _full_new_locations,
    "fewest_shipments": _shipments,
    "closest": _total_km,
    "lowest_cost": _cost_cents,
    "most_stock": _stock_depth,
    "location_priority": _priorities,
    "earliest_delivery": _latest_arrival,
}
