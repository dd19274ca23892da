"""`tally edi ack`: read a partner's 997 for the 846s we sent and mark each set accepted or
rejected in the partner's state. A 997 whose own envelope is wrong marks nothing (and is
not acknowledged: X12 never acknowledges an acknowledgment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from base.settings import EdiSettings
from connectors.edi.envelope import read_interchange
from connectors.edi.functional_ack import AckedGroup, Verdict, read_acknowledgment
from connectors.edi.interchange import Interchange
from connectors.edi.parties import check_parties
from connectors.edi.partner_state import PartnerState, SentAdvice
from connectors.edi.partners import PartnerProfile

ACKNOWLEDGMENTS, ACKNOWLEDGMENT, ADVICES = "FA", "997", "IB"


@dataclass
class AckOutcome:
    acked: AckedGroup
    advice: SentAdvice | None  # None: we sent no 846 group with that control number
    verdicts: dict[str, Verdict] = field(default_factory=dict)


def read_partner_acks(
    text: str, partner: PartnerProfile, us: EdiSettings
) -> tuple[Interchange, list[AckedGroup]]:
    interchange = read_interchange(text)
    check_parties(interchange, partner, us)
    found = []
    for group, one in interchange.sets():
        if group.functional_id != ACKNOWLEDGMENTS or one.id_code != ACKNOWLEDGMENT:
            one.problems.add("1", f"{group.functional_id}/{one.id_code}: only FA/997 is read")
            continue
        acked = read_acknowledgment(one)
        if acked is not None:
            found.append(acked)
    return interchange, found


def apply_acks(
    us: EdiSettings, partner: PartnerProfile, found: list[AckedGroup]
) -> list[AckOutcome]:
    """Mark the sets of each acknowledged 846 group; an ack of a group we never sent is
    reported, not applied."""
    state = PartnerState(us.state_dir, partner.name)
    sent = state.sent()
    outcomes = []
    for acked in found:
        advice = sent.get(acked.control) if acked.functional_id == ADVICES else None
        if advice is None:
            outcomes.append(AckOutcome(acked, None))
            continue
        verdicts = acked.verdicts(list(advice.sets))
        state.mark(acked.control, verdicts)
        outcomes.append(AckOutcome(acked, advice, verdicts))
    return outcomes


def partner_for(text: str, partners: dict[str, PartnerProfile]) -> PartnerProfile | None:
    """The partner whose ISA id sent `text` (for `tally edi ack FILE` without --partner)."""
    interchange = read_interchange(text)
    return next(
        (p for p in partners.values() if (p.isa_qualifier, p.isa_id) ==
         (interchange.sender_qualifier, interchange.sender)),
        None,
    )  # fmt: skip
