"""997 functional acknowledgments: built for an interchange we received, read from one a
partner sent for ours.

All or nothing: `tally edi receive` applies an interchange whole or not at all, so when
anything in it is wrong, every set (AK5) and group (AK9) is acknowledged R, the ones at
fault with their codes and AK3/AK4 notes, the others without a code. Interchange-level
problems (ISA/IEA) also get a TA1 before the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from connectors.edi.interchange import Group, Interchange, SegmentProblem, TransactionSet
from connectors.edi.outbound import Segments
from connectors.edi.segments import DEFAULT_DELIMITERS
from connectors.edi.x12_dates import hhmm, yymmdd

CODES_MAX = 5  # AK502-AK506, AK905-AK909
BAD_VALUE_CHARS_MAX = 99  # AK404
ACCEPTING = {"A", "E"}  # AK501/AK901: accepted, accepted with errors noted
Verdict = Literal["accepted", "rejected"]


def technical_ack(interchange: Interchange, now: datetime) -> Segments:
    """A TA1 rejecting the interchange when its envelope is at fault, else nothing. An ISA
    that could not be read lends no date or time: ours stand in (TA102/TA103 are required)."""
    if not interchange.problems:
        return []
    code = interchange.problems.codes[0] if interchange.problems.codes else "024"
    day, clock = (
        (interchange.date, interchange.time) if interchange.date else (yymmdd(now), hhmm(now))
    )
    return [["TA1", interchange.control, day, clock, "R", code]]


def acknowledgments(interchange: Interchange) -> list[tuple[str, Segments]]:
    """One 997 per functional group received, as (ST01, body) for outbound.Outgoing."""
    return [("997", _group_ack(group, interchange.ok)) for group in interchange.groups]


def _group_ack(group: Group, whole: bool) -> Segments:
    body: Segments = [["AK1", group.functional_id, group.control]]
    for one in group.sets:
        body += _set_ack(one, whole)
    declared = group.sets_declared if group.sets_declared is not None else len(group.sets)
    accepted = len(group.sets) if whole else 0
    codes = group.problems.codes[:CODES_MAX]
    status = "A" if whole else "R"
    body.append(["AK9", status, str(declared), str(len(group.sets)), str(accepted), *codes])
    return body


def _set_ack(one: TransactionSet, whole: bool) -> Segments:
    body: Segments = [["AK2", one.id_code, one.control]]
    for problem in one.segment_problems:
        body += _segment_note(problem)
    body.append(["AK5", "A" if whole else "R", *one.problems.codes[:CODES_MAX]])
    return body


def _segment_note(problem: SegmentProblem) -> Segments:
    notes: Segments = [["AK3", _clean(problem.tag), str(problem.position), "", problem.code]]
    for element in problem.elements:
        copy = _clean(element.bad_value)[:BAD_VALUE_CHARS_MAX]
        notes.append(["AK4", str(element.position), "", element.code, copy])
    return notes


def _clean(value: str) -> str:
    """A value copied from the partner's file, without our delimiters."""
    return "".join(char for char in value if char not in DEFAULT_DELIMITERS.all())


# --- reading a partner's 997 -------------------------------------------------------------


@dataclass
class AckedGroup:
    """What a 997 says of one of our groups: its status, and each set's."""

    functional_id: str
    control: str  # our GS06
    status: str = ""  # AK901
    sets: dict[str, str] = field(default_factory=dict)  # our ST02 -> AK501
    codes: list[str] = field(default_factory=list)  # AK905...

    def verdicts(self, our_sets: list[str]) -> dict[str, Verdict]:
        """accepted / rejected for each of our sets. A set without its AK2 shares the
        group's fate (A, E), or was accepted when only some were (P: the others are listed)."""
        unlisted = "A" if self.status in (*ACCEPTING, "P") else "R"
        return {control: _verdict(self.sets.get(control, unlisted)) for control in our_sets}


def _verdict(status: str) -> Verdict:
    return "accepted" if status in ACCEPTING else "rejected"


def read_acknowledgment(one: TransactionSet) -> AckedGroup | None:
    """The group a 997 set acknowledges; None (and the set flagged) when it has no AK1/AK9."""
    acked: AckedGroup | None = None
    current = ""
    for position, segment in one.positioned():
        if segment.tag == "AK1":
            acked = AckedGroup(segment.element(1), segment.element(2))
        elif segment.tag == "AK2":
            current = segment.element(2)
        elif segment.tag == "AK5" and acked is not None and current:
            acked.sets[current] = segment.element(1)
        elif segment.tag == "AK9" and acked is not None:
            acked.status = segment.element(1)
            acked.codes = [segment.element(n) for n in range(5, 10) if segment.element(n)]
        elif segment.tag not in ("AK3", "AK4"):
            one.flag(SegmentProblem(segment.tag, position, "2", "unexpected segment in a 997"))
    if acked is None or not acked.status:
        end = len(one.body) + 2
        one.flag(SegmentProblem("AK1" if acked is None else "AK9", end, "3", "missing"))
        return None
    return acked
