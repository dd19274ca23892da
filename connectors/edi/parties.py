"""Is an interchange from this partner and to us? ISA05/06 must be the partner's, ISA07/08
ours (TA1 005-008); each group's GS02/GS03 likewise (refused in the AK9, without a code:
X12 has none for it)."""

from __future__ import annotations

from base.settings import EdiSettings
from connectors.edi.interchange import Interchange
from connectors.edi.partners import PartnerProfile


def check_parties(interchange: Interchange, partner: PartnerProfile, us: EdiSettings) -> None:
    if not interchange.sender_qualifier:
        return  # the ISA could not be read: already refused
    expected = {
        "005": ("sender id qualifier", interchange.sender_qualifier, partner.isa_qualifier),
        "006": ("sender id", interchange.sender, partner.isa_id),
        "007": ("receiver id qualifier", interchange.receiver_qualifier, us.isa_qualifier),
        "008": ("receiver id", interchange.receiver, us.isa_id),
    }
    for code, (what, found, wanted) in expected.items():
        if found != wanted:
            interchange.problems.add(code, f"ISA {what} {found!r}, expected {wanted!r}")
    for group in interchange.groups:
        if group.sender != partner.application_id:
            wanted = partner.application_id
            group.problems.add("", f"GS02 sender {group.sender!r}, expected {wanted!r}")
        if group.receiver != us.gs_id:
            group.problems.add("", f"GS03 receiver {group.receiver!r}, expected {us.gs_id!r}")
