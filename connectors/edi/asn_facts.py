"""Turn a read ship notice into `supply_expected` facts, validated on the same path as the
gateway's and the bulk import's (connectors.fact_intake); a fact the ledger would refuse
flags the segment its bad value came from.

One fact per (SKU, location, order): the fold keeps one incoming item per (location, order)
of a SKU and a second fact for it replaces the first, so lines of the same SKU are summed.
The event id is derived from the sender, the shipment id (BSN02), the line (HL01) and the
fact's content: the same file received twice gives the same ids (the ledger drops the
repeat), a replacing ASN with other figures gives new ones (its facts replace the old).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.edi.interchange import ElementProblem, SegmentProblem, TransactionSet
from connectors.edi.partners import PartnerProfile
from connectors.edi.ship_notice import NoticeLine, Place, ShipNotice
from connectors.fact_intake import FactError, validate_item
from ledger.events import SupplyExpected

INVALID_CODE, INVALID_DATE = "7", "8"
_DATE_FIELDS = {"occurred_at", "eta", "ingested_at"}


@dataclass(frozen=True, slots=True)
class AsnContext:
    """What the facts take from outside the set: who sent it and when we took it in."""

    sender: str  # ISA06
    partner: PartnerProfile
    transit_days: int
    ingested_at: str


def expected_supply(
    notice: ShipNotice, one: TransactionSet, context: AsnContext
) -> list[SupplyExpected]:
    """The set's facts; [] (and the set flagged) when any fact is invalid."""
    eta = _eta(notice, context)
    if eta is None or notice.issued is None:
        return []  # already flagged by the reader
    grouped: dict[tuple[str, str, str], tuple[NoticeLine, int]] = {}
    for line in notice.lines:
        if line.qty <= 0 or not line.sku or not line.location:
            continue  # nothing shipped (SN102 = 0) is nothing incoming; the rest is flagged
        key = (line.sku, line.location, _order_id(notice, line, context))
        first, qty = grouped.get(key, (line, 0))
        grouped[key] = (first, qty + line.qty)
    facts: list[SupplyExpected] = []
    for (sku, location, order_id), (line, qty) in grouped.items():
        body: dict[str, Any] = {
            "type": "supply_expected", "sku": sku, "location": location, "qty": qty,
            "order_id": order_id, "eta": _iso(eta), "occurred_at": _iso(notice.issued),
            "source": f"edi:{context.partner.name}",
        }  # fmt: skip
        body["event_id"] = _event_id(context.sender, notice.shipment, line.line, body)
        result = validate_item(len(facts), body, context.ingested_at)
        if isinstance(result, list):
            by_po = context.partner.order_id_from == "purchase_order"
            _flag_refusals(one, _places(notice, line, by_po), line, result)
        elif isinstance(result, SupplyExpected):  # always: the body's type says so
            facts.append(result)
    return facts if one.ok else []


def _eta(notice: ShipNotice, context: AsnContext) -> datetime | None:
    if notice.estimated is not None:
        return notice.estimated
    if notice.shipped is not None:
        return notice.shipped + timedelta(days=context.transit_days)
    return None


def _order_id(notice: ShipNotice, line: NoticeLine, context: AsnContext) -> str:
    return line.order if context.partner.order_id_from == "purchase_order" else notice.shipment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _event_id(sender: str, shipment: str, line: str, body: dict[str, Any]) -> str:
    content = "|".join(str(body[k]) for k in ("sku", "location", "order_id", "qty", "eta"))
    digest = hashlib.sha256(f"{sender}|{shipment}|{line}|{content}".encode()).hexdigest()[:10]
    return f"edi-{shipment[:30]}-{line[:12]}-{digest}"


def _flag_refusals(
    one: TransactionSet, places: dict[str, Place | None], line: NoticeLine, errors: list[FactError]
) -> None:
    for error in errors:
        place = places.get(error.field) or line.item_at  # the LIN when no better place
        code = INVALID_DATE if error.field in _DATE_FIELDS else INVALID_CODE
        bad = ElementProblem(place.element, code)
        reason = f"item {line.item!r}: {error.field or 'fact'}: {error.reason}"
        one.flag(SegmentProblem(place.tag, place.position, "8", reason, (bad,)))


def _places(notice: ShipNotice, line: NoticeLine, by_po: bool) -> dict[str, Place | None]:
    """The segment and element each fact field came from."""
    return {
        "sku": line.item_at,
        "qty": line.qty_at,
        "location": line.location_at,
        "order_id": line.order_at if by_po else notice.shipment_at,
        "event_id": notice.shipment_at,
        "eta": notice.eta_at,
        "occurred_at": Place("BSN", notice.shipment_at.position, 3),
    }
