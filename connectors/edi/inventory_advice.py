"""The 846 inventory advice we send: for each of the partner's items, the units our channel
publishes as available to sell (QTY*33), under the partner's item id and our SKU."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.edi.outbound import Segments
from connectors.edi.partners import PartnerProfile
from connectors.edi.x12_dates import ccyymmdd, hhmm

ORIGINAL, SELLER_INVENTORY_REPORT = "00", "SI"  # BIA01, BIA02
AVAILABLE_FOR_SALE = "33"  # QTY01
OUR_SKU = "SK"  # LIN qualifier: stock keeping unit


def advice_body(
    partner: PartnerProfile, figures: Mapping[str, int], reference: str, now: datetime
) -> Segments:
    """BIA, then LIN + QTY per SKU (sorted), then CTT: the body of one 846 set."""
    items = partner.items_by_sku()
    body: Segments = [
        ["BIA", ORIGINAL, SELLER_INVENTORY_REPORT, reference, ccyymmdd(now), hhmm(now)]
    ]
    skus = sorted(sku for sku in figures if sku in items)
    for number, sku in enumerate(skus, start=1):
        body.append(["LIN", str(number), partner.item_qualifier, items[sku], OUR_SKU, sku])
        body.append(["QTY", AVAILABLE_FOR_SALE, str(max(0, figures[sku])), "EA"])
    body.append(["CTT", str(len(skus))])
    return body


def advised_quantities(body: Segments) -> dict[str, int]:
    """SKU -> QTY*33 of an advice body (what the partner will read)."""
    found: dict[str, int] = {}
    sku = ""
    for segment in body:
        if segment[0] == "LIN":
            sku = segment[segment.index(OUR_SKU) + 1]
        elif segment[0] == "QTY" and segment[1] == AVAILABLE_FOR_SALE:
            found[sku] = int(segment[2])
    return found
