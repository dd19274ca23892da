"""Read an 856 ship notice (ASN) into lines we can act on, each value with the place it came
from, and flag every segment in error (AK3/AK4) against the partner's profile.

Read: BSN (purpose 00 original / 05 replace, shipment id, date, time), HL levels (S shipment,
O order, T tare, P pack, I item), DTM*017 estimated delivery and DTM*011 shipped, N1*ST
ship-to (N104 mapped to our location; an order-level N1*ST overrides the shipment's), PRF01
purchase order, LIN (the partner's item id under `item_qualifier`, mapped to our SKU) and
SN1 (SN102 units shipped, SN103 unit of measure). Other segments (TD1, TD5, REF, MAN, PID,
N3, N4, CTT ...) are carried but not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from connectors.edi.interchange import ElementProblem, SegmentProblem, TransactionSet
from connectors.edi.partners import PartnerProfile
from connectors.edi.segments import Segment
from connectors.edi.x12_dates import parse_date, parse_time

PURPOSES = {"00": "original", "05": "replace"}
LEVELS = {"S", "O", "T", "P", "I"}
MANDATORY_MISSING, INVALID_CHARACTER, INVALID_CODE, INVALID_DATE, INVALID_TIME = (
    "1", "6", "7", "8", "9"
)  # fmt: skip
SEGMENT_MISSING, SEGMENT_HAS_ELEMENT_ERRORS = "3", "8"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value sits: segment tag, position in the set, element number."""

    tag: str
    position: int
    element: int


@dataclass
class NoticeLine:
    line: str  # HL01 of the item level (".2", ".3" ... for more LINs under one HL)
    item: str
    item_at: Place
    sku: str = ""
    qty: int = 0
    qty_at: Place | None = None
    order: str = ""  # PRF01 of the enclosing order level
    order_at: Place | None = None
    location: str = ""
    location_at: Place | None = None


@dataclass
class ShipNotice:
    purpose: str = ""
    shipment: str = ""  # BSN02
    shipment_at: Place = Place("BSN", 2, 2)
    issued: datetime | None = None  # BSN03 + BSN04
    estimated: datetime | None = None  # DTM*017
    shipped: datetime | None = None  # DTM*011
    eta_at: Place | None = None
    lines: list[NoticeLine] = field(default_factory=list)


class _Reader:
    """One pass over the set's body; problems are flagged on the set as they are found."""

    def __init__(self, one: TransactionSet, partner: PartnerProfile) -> None:
        self.set = one
        self.partner = partner
        self.zone = partner.zone()
        self.notice = ShipNotice()
        self.seen_bsn = False
        self.hl_ids: set[str] = set()
        self.hl: str = ""
        self.lins_in_hl = 0
        self.order: tuple[str, Place | None] = ("", None)
        self.ship_to: dict[str, tuple[str, Place]] = {}  # level code (S or O) -> location
        self.level = ""

    def read(self) -> ShipNotice:
        handlers = {"BSN": self._bsn, "HL": self._hl, "DTM": self._dtm, "N1": self._n1,
                    "PRF": self._prf, "LIN": self._lin, "SN1": self._sn1}  # fmt: skip
        for position, segment in self.set.positioned():
            handler = handlers.get(segment.tag)
            if handler is not None:
                handler(segment, position)
        self._check_complete()
        return self.notice

    def flag(self, segment: Segment, position: int, reason: str, *elements: ElementProblem) -> None:
        code = SEGMENT_HAS_ELEMENT_ERRORS if elements else SEGMENT_MISSING
        self.set.flag(SegmentProblem(segment.tag, position, code, reason, elements))

    def missing(self, tag: str, position: int, reason: str) -> None:
        self.set.flag(SegmentProblem(tag, position, SEGMENT_MISSING, reason))

    def _bsn(self, segment: Segment, position: int) -> None:
        self.seen_bsn = True
        purpose, shipment = segment.element(1), segment.element(2)
        self.notice.purpose, self.notice.shipment = purpose, shipment
        self.notice.shipment_at = Place("BSN", position, 2)
        if purpose not in PURPOSES:
            bad = ElementProblem(1, INVALID_CODE, purpose)
            self.flag(segment, position, f"BSN01 purpose {purpose!r} (00 or 05 only)", bad)
        if not shipment:
            bad = ElementProblem(2, MANDATORY_MISSING)
            self.flag(segment, position, "BSN02 shipment id is missing", bad)
        issued = self._moment(segment, position, 3, 4)
        self.notice.issued = issued

    def _moment(
        self, segment: Segment, position: int, date_at: int, time_at: int
    ) -> datetime | None:
        """The date (and optional time) in elements `date_at`/`time_at`, in the partner's zone."""
        day = parse_date(segment.element(date_at))
        if day is None or len(segment.element(date_at)) != 8:
            bad = ElementProblem(date_at, INVALID_DATE, segment.element(date_at))
            self.flag(segment, position, f"{segment.tag}{date_at:02d} is not a CCYYMMDD date", bad)
            return None
        clock_text = segment.element(time_at)
        clock = parse_time(clock_text) if clock_text else time(0, 0)
        if clock is None:
            bad = ElementProblem(time_at, INVALID_TIME, clock_text)
            self.flag(segment, position, f"{segment.tag}{time_at:02d} is not a time", bad)
            return None
        return _zoned(day, clock, self.zone)

    def _hl(self, segment: Segment, position: int) -> None:
        number, parent, level = segment.element(1), segment.element(2), segment.element(3)
        problems = []
        if not number.isdigit() or number in self.hl_ids:
            problems.append(ElementProblem(1, INVALID_CODE, number))
        if parent and parent not in self.hl_ids:
            problems.append(ElementProblem(2, INVALID_CODE, parent))
        if level not in LEVELS:
            problems.append(ElementProblem(3, INVALID_CODE, level))
        if problems:
            self.flag(
                segment, position, f"HL {number!r} (parent {parent!r}, level {level!r})", *problems
            )
        self.hl_ids.add(number)
        self.hl, self.lins_in_hl, self.level = number, 0, level
        if level == "O":
            self.order = ("", None)
            self.ship_to.pop("O", None)

    def _dtm(self, segment: Segment, position: int) -> None:
        qualifier = segment.element(1)
        if qualifier not in ("011", "017"):
            return
        moment = self._moment(segment, position, 2, 3)
        if qualifier == "017" and self.notice.estimated is None:
            self.notice.estimated = moment
            self.notice.eta_at = Place("DTM", position, 2)
        elif qualifier == "011" and self.notice.shipped is None:
            self.notice.shipped = moment
            self.notice.eta_at = self.notice.eta_at or Place("DTM", position, 2)

    def _n1(self, segment: Segment, position: int) -> None:
        if segment.element(1) != "ST":
            return
        code = segment.element(4)
        location = self.partner.locations.get(code, "")  # "": flagged here, not again per line
        if not code:
            bad = ElementProblem(4, MANDATORY_MISSING)
            self.flag(segment, position, "N1*ST without an id (N103/N104)", bad)
        elif not location:
            bad = ElementProblem(4, INVALID_CODE, code)
            self.flag(segment, position, f"ship-to {code!r} is not in the partner's locations", bad)
        self.ship_to["O" if self.level == "O" else "S"] = (location, Place("N1", position, 4))

    def _prf(self, segment: Segment, position: int) -> None:
        self.order = (segment.element(1), Place("PRF", position, 1))

    def _lin(self, segment: Segment, position: int) -> None:
        self.lins_in_hl += 1
        suffix = f".{self.lins_in_hl}" if self.lins_in_hl > 1 else ""
        element = _id_element(segment, self.partner.item_qualifier)
        item = segment.element(element) if element else ""
        line = NoticeLine(
            f"{self.hl or position}{suffix}", item, Place("LIN", position, element or 3)
        )
        line.order, line.order_at = self.order
        location = self.ship_to.get("O") or self.ship_to.get("S")
        if location is not None:
            line.location, line.location_at = location
        self.notice.lines.append(line)
        if element is None:
            bad = ElementProblem(3, MANDATORY_MISSING)
            reason = f"LIN has no {self.partner.item_qualifier} item id"
            self.flag(segment, position, reason, bad)
            return
        line.sku = self.partner.items.get(item, "")
        if not line.sku:
            bad = ElementProblem(element, INVALID_CODE, item)
            self.flag(segment, position, f"unknown partner item {item!r}", bad)

    def _sn1(self, segment: Segment, position: int) -> None:
        if not self.notice.lines or self.notice.lines[-1].qty_at is not None:
            self.flag(segment, position, "SN1 without its LIN", ElementProblem(2, INVALID_CODE))
            return
        line = self.notice.lines[-1]
        line.qty_at = Place("SN1", position, 2)
        quantity, unit = segment.element(2), segment.element(3)
        per_unit = self.partner.units.get(unit)
        if not quantity.isdigit():
            bad = ElementProblem(2, INVALID_CHARACTER, quantity)
            self.flag(segment, position, f"SN102 {quantity!r} is not a whole number", bad)
        elif per_unit is None:
            bad = ElementProblem(3, INVALID_CODE, unit)
            self.flag(segment, position, f"unit of measure {unit!r} is not in the profile", bad)
        else:
            line.qty = int(quantity) * per_unit

    def _check_complete(self) -> None:
        end = len(self.set.body) + 2  # where SE sits: missing segments are reported there
        if not self.seen_bsn:
            self.missing("BSN", 2, "the BSN segment is missing")
        if not self.notice.lines:
            self.missing("LIN", end, "no item (LIN/SN1) in the ship notice")
        if self.notice.estimated is None and self.notice.shipped is None:
            self.missing("DTM", end, "no DTM*017 (estimated delivery) or DTM*011 (shipped)")
        for line in self.notice.lines:
            self._check_line(line, end)

    def _check_line(self, line: NoticeLine, end: int) -> None:
        if line.qty_at is None:
            self.missing("SN1", line.item_at.position + 1, f"item {line.item!r} has no SN1")
        if line.location_at is None:
            self.missing("N1", end, f"item {line.item!r} has no ship-to (N1*ST)")
        if self.partner.order_id_from == "purchase_order" and not line.order:
            self.missing("PRF", line.item_at.position, f"item {line.item!r} has no PO (PRF01)")


def _id_element(segment: Segment, qualifier: str) -> int | None:
    """The element number of the id qualified by `qualifier` in LIN02/03, LIN04/05, ..."""
    for number in range(2, len(segment.elements), 2):
        if segment.element(number) == qualifier:
            return number + 1
    return None


def _zoned(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def read_ship_notice(one: TransactionSet, partner: PartnerProfile) -> ShipNotice:
    """The notice in an 856 set; its problems are flagged on the set (one.ok tells)."""
    return _Reader(one, partner).read()
