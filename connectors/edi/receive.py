"""`tally edi receive`: an inbound interchange of 856 ship notices becomes `supply_expected`
facts on Kafka, all of them or none.

The whole interchange is checked first (envelopes, parties, every notice, every fact on the
gateway's validation path). Any problem: nothing is produced and a rejecting 997 (with a
TA1 when the envelope is at fault) names each one. No problem: the facts are produced and
acknowledged by Kafka, and only then is the accepting 997 written; if Kafka fails, no 997
is written and the partner's resend (or ours) is safe: the event ids repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from base.settings import EdiSettings, Settings
from connectors.edi.asn_facts import AsnContext, expected_supply
from connectors.edi.envelope import read_interchange
from connectors.edi.functional_ack import acknowledgments, technical_ack
from connectors.edi.interchange import Interchange
from connectors.edi.outbound import Outgoing, interchange_segments, render_interchange
from connectors.edi.outbound import write_outbox as write
from connectors.edi.parties import check_parties
from connectors.edi.partner_state import PartnerState
from connectors.edi.partners import PartnerProfile
from connectors.edi.ship_notice import read_ship_notice
from connectors.fact_intake import stamp
from connectors.fact_producer import produce_facts
from ledger.events import SupplyExpected

SHIP_NOTICES, SHIP_NOTICE = "SH", "856"
NOT_SUPPORTED = "1"  # AK905 / AK502


@dataclass
class Receipt:
    interchange: Interchange
    facts: list[SupplyExpected]
    ack_path: Path

    @property
    def accepted(self) -> bool:
        return self.interchange.ok


def examine(text: str, partner: PartnerProfile, us: EdiSettings, now: datetime) -> Receipt:
    """Check everything and build the facts; no I/O. `facts` is [] unless all is well."""
    interchange = read_interchange(text)
    check_parties(interchange, partner, us)
    if not interchange.groups and not interchange.problems:
        interchange.problems.add("024", "the interchange has no functional group")
    context = AsnContext(
        sender=interchange.sender,
        partner=partner,
        transit_days=us.transit_days if partner.transit_days is None else partner.transit_days,
        ingested_at=stamp(now),
    )
    facts: list[SupplyExpected] = []
    for group in interchange.groups:
        if group.functional_id != SHIP_NOTICES:
            group.problems.add(NOT_SUPPORTED, f"GS01 {group.functional_id!r}: only SH is taken")
        for one in group.sets:
            if one.id_code != SHIP_NOTICE:
                one.problems.add(NOT_SUPPORTED, f"ST01 {one.id_code!r}: only 856 is taken")
            elif one.ok:  # an unreadable envelope says nothing of its content
                facts += expected_supply(read_ship_notice(one, partner), one, context)
    return Receipt(interchange, facts if interchange.ok else [], Path())


def write_ack(us: EdiSettings, partner: PartnerProfile, receipt: Receipt, now: datetime) -> Path:
    """The 997 (and TA1) for what was received, with fresh control numbers, in the outbox."""
    interchange = receipt.interchange
    sets = acknowledgments(interchange)
    controls = PartnerState(us.state_dir, partner.name).reserve(len(sets))
    outgoing = Outgoing("FA", sets, prefix=technical_ack(interchange, now))
    segments = interchange_segments(us, partner, controls, outgoing, now)
    return write(us, partner.name, "997", controls.interchange, render_interchange(us, segments))


async def receive(
    settings: Settings, partner: PartnerProfile, path: Path, now: datetime
) -> Receipt:
    # latin-1 never fails to decode: a stray byte is found by the checks, not by a crash
    receipt = examine(path.read_text(encoding="latin-1"), partner, settings.edi, now)
    if receipt.accepted:
        await produce_facts(settings, receipt.facts)
    receipt.ack_path = write_ack(settings.edi, partner, receipt, now)
    return receipt
