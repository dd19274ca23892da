"""Candidate location sets for a plan, each filled greedily from the stock given.

A candidate is the fixed locations (already holding lines of the order) plus 0..k new ones,
k bounded by the order's shipments; its lines are filled location by location (fixed ones
first, then new ones by the channel's priority), each taking what it has of what is still
needed. A candidate whose new location adds nothing is the smaller candidate again, so it is
skipped. Lines have distinct SKUs, so filling each line from the whole set is optimal for
the units a set can fill.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from ledger.sourcing.model import Line, PlanRequest, Shipment


@dataclass(frozen=True, slots=True)
class Candidate:
    locations: tuple[str, ...]  # fixed ones first, then new ones by priority
    new_locations: tuple[str, ...]
    shipments: tuple[Shipment, ...]  # the lines each location takes now
    filled_units: int
    unfilled: tuple[Line, ...]
    backordered: int = 0  # units of `filled_units` that wait on supply

    @property
    def complete(self) -> bool:
        return not self.unfilled

    @property
    def label(self) -> tuple[str, ...]:
        return tuple(sorted(self.locations))


def available(request: PlanRequest, sku: str, location: str) -> int:
    """Units the plan may take of `sku` at `location` (0 when that pair failed before)."""
    if (sku, location) in request.excluded:
        return 0
    return max(0, request.stock.get(sku, {}).get(location, 0))


def supply_eta(request: PlanRequest, sku: str, location: str, units: int) -> datetime | None:
    """The ETA of the earliest supply at `location` with `units` of `sku` not yet promised
    (None: none, or that pair failed before): where a backorder would wait."""
    if not request.allow_backorder or (sku, location) in request.excluded:
        return None
    supply = request.supply.get(sku, {}).get(location, ())
    return next((eta for eta, left in supply if left >= units), None)


def _supply_units(request: PlanRequest, sku: str, location: str) -> int:
    if not request.allow_backorder or (sku, location) in request.excluded:
        return 0
    return max((left for _, left in request.supply.get(sku, {}).get(location, ())), default=0)


def candidates(request: PlanRequest) -> tuple[list[Candidate], bool]:
    """Every candidate within the bounds, and whether a bound cut the search."""
    fixed = _fixed_locations(request)
    eligible, cut = _eligible_new_locations(request, fixed)
    new_max = max(0, request.max_shipments - len(fixed))
    found: list[Candidate] = []
    for new in _location_sets(eligible, new_max, allow_none=bool(fixed)):
        if len(found) >= request.candidates_max:
            return found, True
        candidate = _fill(request, fixed, new)
        if candidate is not None:
            found.append(candidate)
    return found, cut


def _fixed_locations(request: PlanRequest) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for shipment in request.fixed:
        seen.setdefault(shipment.location, None)
    return tuple(seen)


def _may_take_new_lines(request: PlanRequest, location: str) -> bool:
    site = request.sites.get(location)
    if site is None:
        return False
    if location == request.pickup_location:
        return site.can_pickup or site.can_ship
    return site.can_ship


def _eligible_new_locations(request: PlanRequest, fixed: tuple[str, ...]) -> tuple[list[str], bool]:
    """New locations that have something the order needs, best first, cut to the bound."""
    scored = []
    for location, site in request.sites.items():
        if location in fixed or not _may_take_new_lines(request, location):
            continue
        fills = [
            min(
                line.qty,
                available(request, line.sku, location) + _supply_units(request, line.sku, location),
            )
            for line in request.lines
        ]
        units = sum(fills)
        if units == 0:
            continue
        whole = sum(1 for fill, line in zip(fills, request.lines, strict=True) if fill == line.qty)
        scored.append(((-whole, -units, site.priority, location), location))
    scored.sort()
    kept = [location for _, location in scored[: request.locations_considered_max]]
    return kept, len(scored) > len(kept)


def _location_sets(
    eligible: list[str], new_max: int, *, allow_none: bool
) -> Iterator[tuple[str, ...]]:
    """Sets of new locations by size: none (only with fixed ones), 1, 2, ... new_max."""
    for size in range(0 if allow_none else 1, min(new_max, len(eligible)) + 1):
        yield from combinations(eligible, size)


def _fill(request: PlanRequest, fixed: tuple[str, ...], new: tuple[str, ...]) -> Candidate | None:
    priority = {loc: request.sites[loc].priority for loc in new}
    order = (*fixed, *sorted(new, key=lambda loc: (priority[loc], loc)))
    taken: dict[str, dict[str, int]] = {loc: {} for loc in order}
    waits: dict[str, datetime] = {}
    unfilled: list[Line] = []
    filled = backordered = 0
    for line in request.lines:
        need = line.qty
        for location in order:
            take = min(need, available(request, line.sku, location))
            if take:
                taken[location][line.sku] = take
                need -= take
                filled += take
            if need == 0:
                break
        if need:
            waiting = _backorder(request, order, line.sku, need)
            if waiting is None:
                unfilled.append(Line(line.sku, need))
            else:
                location, eta = waiting
                taken[location][line.sku] = taken[location].get(line.sku, 0) + need
                waits[location] = max(eta, waits.get(location, eta))
                filled += need
                backordered += need
    if any(not taken[loc] for loc in new):
        return None  # a new location that adds nothing: the smaller set covers this
    shipments = tuple(
        Shipment(loc, tuple(Line(sku, qty) for sku, qty in lines.items()), waits.get(loc))
        for loc, lines in taken.items()
        if lines
    )
    if not shipments:
        return None
    return Candidate(order, new, shipments, filled, tuple(unfilled), backordered)


def _backorder(
    request: PlanRequest, order: tuple[str, ...], sku: str, units: int
) -> tuple[str, datetime] | None:
    """Where `units` of `sku` would wait on supply: the candidate's location whose supply
    comes first (ties: the candidate's order), with its ETA."""
    best: tuple[datetime, int, str] | None = None
    for index, location in enumerate(order):
        eta = supply_eta(request, sku, location, units)
        if eta is not None and (best is None or (eta, index) < best[:2]):
            best = (eta, index, location)
    return None if best is None else (best[2], best[0])
