"""856 ship notices to `supply_expected` facts: what each fact says, its deterministic id,
and a clear rejection (AK3/AK4 with the X12 codes) for whatever is wrong, with no fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.edi.receive import examine
from tests.connectors.edi.samples import SAMPLE_NOW, acme, edi_settings, sample


def facts_of(text: str, tmp_path: Path, now: datetime = SAMPLE_NOW, **profile: object) -> list:  # type: ignore[type-arg]
    receipt = examine(text, acme(**profile), edi_settings(tmp_path), now)
    assert receipt.accepted, receipt.interchange.reasons()
    return [(f.sku, f.location, f.qty, f.order_id, f.eta.isoformat()) for f in receipt.facts]


def test_the_good_sample_gives_one_fact_per_sku_location_and_order(tmp_path: Path) -> None:
    # W-RED-M is shipped in two packs (24 + 6): one incoming item of 30, not two of which the
    # second would replace the first.
    assert facts_of(sample("asn-good.x12"), tmp_path) == [
        ("W-RED-M", "dc-east", 30, "SHP-20418", "2026-12-04T19:00:00+00:00"),
        ("W-BLU-M", "dc-east", 12, "SHP-20418", "2026-12-04T19:00:00+00:00"),
    ]  # DTM*017*20261204*1400 in New York is 19:00 UTC


def test_facts_carry_the_asn_time_source_and_a_deterministic_event_id(tmp_path: Path) -> None:
    receipt = examine(sample("asn-good.x12"), acme(), edi_settings(tmp_path), SAMPLE_NOW)
    fact = receipt.facts[0]
    assert fact.type == "supply_expected"
    assert fact.occurred_at == datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # BSN03/04 14:30 NY
    assert fact.source == "edi:acme"
    assert fact.ingested_at == SAMPLE_NOW
    assert fact.event_id.startswith("edi-SHP-20418-4-")  # shipment id, first line (HL01)
    again = examine(sample("asn-good.x12"), acme(), edi_settings(tmp_path), SAMPLE_NOW)
    assert [f.event_id for f in again.facts] == [f.event_id for f in receipt.facts]
    replaced = sample("asn-good.x12").replace("SN1**24*EA", "SN1**20*EA")
    other = examine(replaced, acme(), edi_settings(tmp_path), SAMPLE_NOW)
    assert other.facts[0].event_id != fact.event_id  # a replacing ASN's new figure applies
    assert other.facts[1].event_id == receipt.facts[1].event_id


def test_ship_date_only_adds_transit_days_and_order_level_ship_to_and_units(
    tmp_path: Path,
) -> None:
    facts = facts_of(sample("asn-two-notices.x12"), tmp_path, transit_days=2)
    assert facts[2:] == [
        ("W-GRN-S", "dc-west", 10, "SHP-20419", "2026-12-03T05:00:00+00:00"),
        ("W-GRN-S", "dc-east", 24, "SHP-20419", "2026-12-03T05:00:00+00:00"),  # 2 CA of 12
    ]
    default = examine(
        sample("asn-two-notices.x12"), acme(), edi_settings(tmp_path, transit_days=5), SAMPLE_NOW
    )
    assert default.facts[2].eta == datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def test_orders_by_purchase_order_when_the_profile_says_so(tmp_path: Path) -> None:
    facts = facts_of(sample("asn-two-notices.x12"), tmp_path, order_id_from="purchase_order")
    assert [order for _, _, _, order, _ in facts] == [
        "PO-88213",
        "PO-88213",
        "PO-88214",
        "PO-88215",
    ]


def rejection(text: str, tmp_path: Path, now: datetime = SAMPLE_NOW) -> list[tuple[str, ...]]:
    receipt = examine(text, acme(), edi_settings(tmp_path), now)
    assert not receipt.accepted
    assert receipt.facts == []  # nothing half-applied
    one = receipt.interchange.groups[0].sets[0]
    assert one.problems.codes == ["5"]
    return [
        (
            p.tag,
            str(p.position),
            p.code,
            *(f"{e.position}:{e.code}:{e.bad_value}" for e in p.elements),
        )
        for p in one.segment_problems
    ]


def test_an_unknown_partner_item_is_refused_at_its_lin(tmp_path: Path) -> None:
    assert rejection(sample("asn-unknown-item.x12"), tmp_path) == [
        ("LIN", "24", "8", "3:7:AC-7777")
    ]


def test_a_bad_date_is_refused_at_its_dtm(tmp_path: Path) -> None:
    assert rejection(sample("asn-bad-date.x12"), tmp_path) == [("DTM", "8", "8", "2:8:20261341")]


def test_an_unknown_ship_to_a_bad_quantity_and_an_unknown_unit(tmp_path: Path) -> None:
    text = (
        sample("asn-good.x12")
        .replace("92*DC-EAST", "92*DC-NORTH")
        .replace("SN1**12*EA", "SN1**1.5*EA")
        .replace("SN1**6*EA", "SN1**6*PL")
    )
    assert rejection(text, tmp_path) == [
        ("N1", "12", "8", "4:7:DC-NORTH"),
        ("SN1", "25", "8", "2:6:1.5"),
        ("SN1", "31", "8", "3:7:PL"),
    ]


def test_missing_mandatory_segments_are_named(tmp_path: Path) -> None:
    text = sample("asn-good.x12").replace("DTM*011*20261201*1430~\n", "")
    text = text.replace("DTM*017*20261204*1400~\n", "").replace("SE*34*", "SE*32*")
    assert rejection(text, tmp_path) == [("DTM", "32", "3")]


def test_a_notice_the_ledger_would_refuse_is_refused_on_the_gateways_path(
    tmp_path: Path,
) -> None:
    # The ASN is dated more than 30 days before we take it in: fact_intake's clock-skew bound.
    late = SAMPLE_NOW + timedelta(days=40)
    assert rejection(sample("asn-good.x12"), tmp_path, now=late) == [
        ("BSN", "2", "8", "3:8:"),
        ("BSN", "2", "8", "3:8:"),
    ]


def test_an_interchange_not_from_the_partner_or_not_to_us_is_refused(tmp_path: Path) -> None:
    text = sample("asn-good.x12").replace("ACMEWHOLESALE  ", "OTHERCO        ", 1)
    receipt = examine(text, acme(), edi_settings(tmp_path), SAMPLE_NOW)
    assert receipt.interchange.problems.codes == ["006"]
    assert receipt.facts == []
    ours = examine(sample("asn-good.x12"), acme(), edi_settings(tmp_path, isa_id="US"), SAMPLE_NOW)
    assert ours.interchange.problems.codes == ["008"]


def test_only_ship_notices_are_received(tmp_path: Path) -> None:
    text = sample("asn-good.x12").replace("GS*SH", "GS*IB").replace("ST*856", "ST*846")
    receipt = examine(text, acme(), edi_settings(tmp_path), SAMPLE_NOW)
    assert receipt.interchange.groups[0].problems.codes == ["1"]
    assert receipt.interchange.groups[0].sets[0].problems.codes == ["1"]


@pytest.mark.parametrize("name", ["asn-wrong-se-count.x12", "asn-isa-iea-mismatch.x12",
                                  "asn-gs-ge-mismatch.x12"])  # fmt: skip
def test_an_envelope_error_produces_no_fact(name: str, tmp_path: Path) -> None:
    receipt = examine(sample(name), acme(), edi_settings(tmp_path), SAMPLE_NOW)
    assert not receipt.accepted
    assert receipt.facts == []
