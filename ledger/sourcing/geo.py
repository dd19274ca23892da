"""Distances and shipping bands."""

from __future__ import annotations

import math

from ledger.sourcing.model import ShippingBand

EARTH_RADIUS_KM = 6_371.0088  # mean radius (IUGG)
UNKNOWN_KM = 1_000_000  # a site or destination without coordinates ranks last on distance


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in degrees."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def band_cents(bands: tuple[ShippingBand, ...], km: float) -> int:
    """The first band that reaches `km`; past the last bounded band, the last band's cost."""
    band = band_for(bands, km)
    return 0 if band is None else band.cents


def band_for(bands: tuple[ShippingBand, ...], km: float) -> ShippingBand | None:
    """The first band that reaches `km`; past the last bounded band, the last band."""
    for band in bands:
        if band.up_to_km is None or km <= band.up_to_km:
            return band
    return bands[-1] if bands else None
