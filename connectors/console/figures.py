"""What a live page shows of one SKU: its published figures, and the lookup a store needs.

`live_figures` reads Redis (the numbers channels read); `lookup` lays a snapshot of the
ledger and those figures out for a person at a store counter: here, the nearest stores that
have it (by the location records' coordinates), the channels, and the supply on its way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.gateway.backends import Reads
from ledger.policy import PolicyBook
from ledger.sourcing.geo import haversine_km
from ledger.state import SkuState

NEARBY_MAX = 5


@dataclass(frozen=True)
class LiveFigures:
    locations: dict[str, int]  # location -> published units
    channels: dict[str, int]  # channel -> published ATS (0 when never published)

    def by_element(self) -> dict[str, int]:
        """Keyed as the pages' `data-figure` attributes: "loc:NAME" and "ats:NAME"."""
        return {
            **{f"loc:{name}": units for name, units in self.locations.items()},
            **{f"ats:{name}": units for name, units in self.channels.items()},
        }


async def live_figures(reads: Reads, sku: str, channels: Iterable[str]) -> LiveFigures:
    found, _ = await reads.locations(sku)
    by_channel = {}
    for channel in channels:
        (figure,) = await reads.ats(channel, [sku])
        by_channel[channel] = max(0, figure.available or 0)
    return LiveFigures({k: max(0, v) for k, v in sorted(found.items())}, by_channel)


@dataclass(frozen=True)
class StoreUnits:
    location: str
    name: str
    units: int
    distance_km: float | None  # from the store the lookup is made at; None: not known


@dataclass(frozen=True)
class Supply:
    location: str
    kind: str
    qty: int
    eta: datetime | None


@dataclass(frozen=True)
class Lookup:
    sku: str
    here: list[StoreUnits]
    nearby: list[StoreUnits]
    channels: Mapping[str, int]
    supply: list[Supply]


def lookup(state: SkuState, book: PolicyBook, figures: LiveFigures, here: Iterable[str]) -> Lookup:
    """The counter's view: units here, the nearest other stores with units, channels, supply."""
    stores = list(here)
    origin = _coordinates(book, stores[0]) if stores else None
    others = [
        _store(book, name, units, origin)
        for name, units in figures.locations.items()
        if units > 0 and name not in stores
    ]
    others.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0.0, s.location))
    supply = sorted(
        (Supply(i.location, i.kind, i.qty, i.eta) for i in state.incoming.values()),
        key=lambda s: (s.eta is None, s.eta.timestamp() if s.eta else 0.0, s.location),
    )
    return Lookup(
        sku=state.sku,
        here=[_store(book, name, figures.locations.get(name, 0), None) for name in stores],
        nearby=others[:NEARBY_MAX],
        channels=figures.channels,
        supply=supply,
    )


def _coordinates(book: PolicyBook, location: str) -> tuple[float, float] | None:
    record = book.locations.get(location)
    return None if record is None else record.coordinates


def _store(
    book: PolicyBook, location: str, units: int, origin: tuple[float, float] | None
) -> StoreUnits:
    record = book.locations.get(location)
    name = record.name if record is not None and record.name else location
    there = _coordinates(book, location)
    distance = None if origin is None or there is None else round(haversine_km(origin, there), 1)
    return StoreUnits(location, name, units, distance)
