"""The planner's input and output values (frozen; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

RuleName = Literal[
    "pickup_location_only",
    "exclude_over_capacity",
    "prefer_capacity",
    "fewest_shipments",
    "closest",
    "lowest_cost",
    "most_stock",
    "location_priority",
    "earliest_delivery",
]
RULE_NAMES: tuple[RuleName, ...] = (
    "pickup_location_only",
    "exclude_over_capacity",
    "prefer_capacity",
    "fewest_shipments",
    "closest",
    "lowest_cost",
    "most_stock",
    "location_priority",
    "earliest_delivery",
)
FILTER_RULES: frozenset[RuleName] = frozenset({"pickup_location_only", "exclude_over_capacity"})
DEFAULT_RULES: tuple[RuleName, ...] = (
    "pickup_location_only",
    "exclude_over_capacity",
    "fewest_shipments",
    "closest",
    "location_priority",
)
# Search bounds (Salesforce caps its split search the same way): locations kept after the
# prefilter, and candidate location sets scored per plan.
LOCATIONS_CONSIDERED_MAX = 12
CANDIDATES_MAX = 10_000
RANKED_SHOWN_MAX = 5  # candidates listed per rule in the explanation


Supply = tuple[tuple[datetime, int], ...]  # (eta, units not yet promised), earliest first


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Site:
    """What the planner knows of one location the order's channel may use."""

    location: str
    priority: int  # index in the channel's location list (0 first)
    latitude: float | None = None
    longitude: float | None = None
    can_ship: bool = True
    can_pickup: bool = False
    capacity_left: int | None = None  # orders it may still take today; None: unlimited
    handling_per_order_cents: int = 0
    handling_per_unit_cents: int = 0
    # The day an order's shipment from here reaches the shopper (delivered, or ready to
    # collect), from stock now (`earliest_delivery`); None: unknown, ranks last.
    arrives_on: date | None = None
    # The same when it waits on supply due at an ETA: (eta, day), for each ETA in `supply`.
    arrivals: tuple[tuple[datetime, date], ...] = ()


@dataclass(frozen=True, slots=True)
class ShippingBand:
    """Shipping cost and transit days per shipment up to `up_to_km` (None: any distance)."""

    up_to_km: int | None
    cents: int
    transit_days: int = 0


DEFAULT_SHIPPING_BANDS: tuple[ShippingBand, ...] = (
    ShippingBand(50, 500, 1),
    ShippingBand(300, 800, 2),
    ShippingBand(1_000, 1_200, 3),
    ShippingBand(None, 2_000, 5),
)


@dataclass(frozen=True, slots=True)
class Shipment:
    location: str
    lines: tuple[Line, ...]
    waits_until: datetime | None = None  # the ETA of the supply some of its units wait on

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


@dataclass(frozen=True)
class PlanRequest:
    """Plan `lines` (distinct SKUs) from `stock` over `sites`, ranked by `rules`.

    `fixed` are shipments already held (a re-plan): their locations count as shipments and
    may take more lines; `excluded` (sku, location) pairs failed before and get nothing.
    """

    lines: tuple[Line, ...]
    stock: Mapping[str, Mapping[str, int]]  # sku -> location -> available units
    sites: Mapping[str, Site]
    rules: tuple[RuleName, ...] = DEFAULT_RULES
    max_shipments: int = 3
    allow_partial: bool = False
    destination: tuple[float, float] | None = None  # (latitude, longitude)
    pickup_location: str | None = None
    shipping_bands: tuple[ShippingBand, ...] = DEFAULT_SHIPPING_BANDS
    fixed: tuple[Shipment, ...] = ()
    excluded: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    # Backorders (docs/PROMISE.md): what stock cannot fill may wait on supply, per sku and
    # location: (eta, units not yet promised), earliest first.
    allow_backorder: bool = False
    supply: Mapping[str, Mapping[str, Supply]] = field(default_factory=dict)
    locations_considered_max: int = LOCATIONS_CONSIDERED_MAX
    candidates_max: int = CANDIDATES_MAX


Score = int | tuple[int, ...] | str


@dataclass(frozen=True, slots=True)
class Ranked:
    """One candidate as a rule saw it: its locations and its score under that rule."""

    locations: tuple[str, ...]
    score: Score


@dataclass(frozen=True, slots=True)
class RuleRanking:
    """What one rule did: candidates it saw, how many it kept, the best few with scores."""

    rule: str
    seen: int
    kept: int
    ranked: tuple[Ranked, ...]


@dataclass(frozen=True)
class Plan:
    """The chosen candidate: new lines to hold per location, what stays unfilled, and why."""

    shipments: tuple[Shipment, ...]  # lines to hold now, per location (fixed ones too)
    locations: tuple[str, ...]  # every shipment of the order once held (fixed + new)
    unfilled: tuple[Line, ...]
    rankings: tuple[RuleRanking, ...]
    candidates_considered: int
    truncated: bool  # a search bound cut the candidates

    @property
    def complete(self) -> bool:
        return not self.unfilled

    @property
    def found(self) -> bool:
        return bool(self.shipments)
