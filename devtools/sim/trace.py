"""One seeded demand trace in virtual time: what customers and the stores do, not what the
retailer's systems answer (that is the model's, per sync policy).

Web and marketplace orders, store sales, returns (graded hours later), unrecorded shrink at
the stores, cycle counts and damage, as Poisson streams over the trace; SKUs Zipf-popular
through `devtools.workload.facts.FactWorkload` (its `draw_sku` and its seeded `rng`).
Replenishment runs at fixed hours, up to per-(SKU, location) targets drawn once.
The same seed gives the same trace (see `SimConfig` for every rate).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from devtools.sim.world import LOCATIONS, ONLINE, STORES, WAREHOUSES
from devtools.workload.facts import FactWorkload

DAY_S = 24 * 3600.0
Disposition = Literal["restock", "damaged", "dispose"]


@dataclass(frozen=True)
class SimConfig:
    """Every rate of the trace (per virtual day unless said), in one place."""

    seed: int = 7
    hours: float = 24.0
    skus: int = 300
    web_orders: float = 6_000
    marketplace_orders: float = 1_500
    store_sales: float = 1_200  # per store, while open
    store_open_h: tuple[float, float] = (9.0, 21.0)
    return_share: float = 0.08  # returns per online order
    grade_after_h: float = 4.0
    shrink_share: float = 0.015  # units lost unrecorded per store unit sold
    counts: float = 40  # cycle counts per location
    damages: float = 50  # recorded damage, over the warehouses
    pick_after_min_h: tuple[float, float] = (0.5, 3.0)  # order -> shipment
    replenish_hours: tuple[float, ...] = (6.0, 18.0)  # warehouses; stores at the first
    cover: tuple[float, float] = (0.6, 1.3)  # target = expected demand x U(cover)
    receipt_error_share: float = 0.02  # receipts a unit off from what was recorded

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0


class WebOrder(NamedTuple):
    t: float
    sku: str
    channel: str
    qty: int
    ship_after_s: float


class StoreSale(NamedTuple):
    t: float
    sku: str
    store: str
    qty: int


class ReturnArrival(NamedTuple):
    t: float
    sku: str
    location: str
    qty: int
    disposition: Disposition
    grade_after_s: float


class Shrink(NamedTuple):
    t: float
    sku: str
    store: str
    qty: int


class Count(NamedTuple):
    t: float
    sku: str
    location: str


class Damage(NamedTuple):
    t: float
    sku: str
    location: str
    qty: int


class Replenish(NamedTuple):
    t: float
    location: str


Demand = WebOrder | StoreSale | ReturnArrival | Shrink | Count | Damage | Replenish


@dataclass(frozen=True)
class Trace:
    config: SimConfig
    skus: tuple[str, ...]
    targets: dict[tuple[str, str], int]  # (sku, location) -> order-up-to units
    demand: tuple[Demand, ...] = field(repr=False)  # by time


def sku_names(count: int) -> tuple[str, ...]:
    return tuple(f"SKU-{rank:04d}" for rank in range(count))  # rank 0: the most popular


def generate(config: SimConfig) -> Trace:
    skus = sku_names(config.skus)
    workload = FactWorkload(config.seed, skus, LOCATIONS)
    demand: list[Demand] = []
    demand += _web_orders(workload, config)
    demand += _store_demand(workload, config)
    demand += _stock_events(workload, config)
    demand += [
        Replenish(hour * 3600.0, location)
        for hour in range(math.ceil(config.hours))
        for location in _replenished_at(hour, config)
    ]
    demand.sort(key=lambda item: item.t)
    return Trace(config, skus, _targets(workload, skus, config), tuple(demand))


def _times(workload: FactWorkload, per_day: float, config: SimConfig) -> list[float]:
    """Poisson arrival times over the trace at `per_day`."""
    rate_s, t = per_day / DAY_S, 0.0
    times: list[float] = []
    while True:
        t += workload.rng.expovariate(rate_s)
        if t >= config.seconds:
            return times
        times.append(t)


def _qty(workload: FactWorkload) -> int:
    return workload.rng.choices((1, 2, 3), weights=(80, 15, 5))[0]


def _web_orders(workload: FactWorkload, config: SimConfig) -> list[Demand]:
    rng, low, high = workload.rng, *config.pick_after_min_h
    orders: list[Demand] = []
    for channel, per_day in (
        ("web", config.web_orders),
        ("marketplace", config.marketplace_orders),
    ):
        for t in _times(workload, per_day, config):
            sku, qty = workload.draw_sku(), _qty(workload)
            orders.append(WebOrder(t, sku, channel, qty, rng.uniform(low, high) * 3600))
    for t in _times(
        workload, (config.web_orders + config.marketplace_orders) * config.return_share, config
    ):
        disposition: Disposition = rng.choices(("restock", "damaged", "dispose"), (70, 20, 10))[0]
        location = rng.choice(WAREHOUSES)
        grade_s = config.grade_after_h * 3600
        orders.append(ReturnArrival(t, workload.draw_sku(), location, 1, disposition, grade_s))
    return orders


def _open(t: float, config: SimConfig) -> bool:
    opens, closes = config.store_open_h
    return opens <= (t % DAY_S) / 3600 < closes


def _store_demand(workload: FactWorkload, config: SimConfig) -> list[Demand]:
    """Store sales while open (the daily rate spread over the open hours), and shrink."""
    opens, closes = config.store_open_h
    rate_when_open = config.store_sales * 24 / (closes - opens)
    demand: list[Demand] = []
    for store in STORES:
        for t in _times(workload, rate_when_open, config):
            if _open(t, config):
                demand.append(StoreSale(t, workload.draw_sku(), store, _qty(workload)))
        shrink_per_day = config.store_sales * config.shrink_share * 1.3  # 1.3: mean units/sale
        for t in _times(workload, shrink_per_day, config):
            demand.append(Shrink(t, workload.draw_sku(), store, 1))
    return demand


def _stock_events(workload: FactWorkload, config: SimConfig) -> list[Demand]:
    rng = workload.rng
    demand: list[Demand] = []
    for location in LOCATIONS:
        demand += [
            Count(t, workload.draw_sku(), location) for t in _times(workload, config.counts, config)
        ]
    for t in _times(workload, config.damages, config):
        demand.append(Damage(t, workload.draw_sku(), rng.choice(WAREHOUSES), 1))
    return demand


def _replenished_at(hour: int, config: SimConfig) -> tuple[str, ...]:
    at = float(hour % 24)
    locations: tuple[str, ...] = WAREHOUSES if at in config.replenish_hours else ()
    if at == config.replenish_hours[0]:
        locations += STORES
    return locations if hour else LOCATIONS  # hour 0: the opening stock everywhere


def _targets(
    workload: FactWorkload, skus: tuple[str, ...], config: SimConfig
) -> dict[tuple[str, str], int]:
    """Order-up-to units: the demand expected until the next replenishment, x U(cover)."""
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(skus))]
    total = sum(weights)
    cycle_d = 24 / len(config.replenish_hours) / 24  # warehouses: days between runs
    web, market = config.web_orders, config.marketplace_orders
    expected = {
        "wh-east": 0.7 * web * cycle_d,
        "wh-west": (market + 0.3 * web) * cycle_d,
        **{
            store: config.store_sales + (0.05 * web if store in ONLINE["web"] else 0)
            for store in STORES
        },
    }
    low, high = config.cover
    return {
        (sku, location): math.ceil(
            expected[location] * weight / total * workload.rng.uniform(low, high)
        )
        for sku, weight in zip(skus, weights, strict=True)
        for location in LOCATIONS
    }


def receipt_error(seed: int, sku: str, location: str, t: float, share: float) -> int:
    """Units the shelf got beyond (or short of) a receipt's recorded quantity: -1, 0 or 1.

    Drawn from a hash of the receipt, not the trace's stream, so every model run (whose
    receipts differ) sees the same error for the same receipt.
    """
    draw = zlib.crc32(f"{seed}:{sku}:{location}:{t:.0f}".encode()) / 2**32
    if draw >= share:
        return 0
    return -1 if draw < share / 2 else 1
