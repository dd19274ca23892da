"""Read an interchange and check its envelopes: ISA/IEA, GS/GE and ST/SE, their control
numbers and counts. Never raises: every problem is recorded at its level (TA1 / AK9 / AK5
codes), so one pass finds them all and the 997 can name each.

Checks: ISA fixed width (segments.read_delimiters) and its fields' formats; ISA13 = IEA02,
IEA01 = number of GS; GS06 = GE02, GE01 = number of ST; ST02 = SE02, SE01 = segments from
ST to SE inclusive; ST02 unique in its group; every segment inside an envelope; every
envelope closed.
"""

from __future__ import annotations

import re

from connectors.edi.interchange import Group, Interchange, SegmentProblem, TransactionSet
from connectors.edi.segments import Delimiters, Segment, SyntaxProblem, read_delimiters
from connectors.edi.segments import split_segments as split
from connectors.edi.x12_dates import parse_date, parse_time

# ISA element -> (pattern, TA1 note code, what it is)
_ISA_FORMATS: dict[int, tuple[str, str, str]] = {
    5: (r"^[A-Z0-9]{2}$", "005", "sender id qualifier"),
    7: (r"^[A-Z0-9]{2}$", "007", "receiver id qualifier"),
    12: (r"^\d{5}$", "017", "version"),
    13: (r"^\d{9}$", "018", "control number"),
    14: (r"^[01]$", "019", "acknowledgment requested"),
    15: (r"^[PTI]$", "020", "usage indicator"),
}
_GROUP_CONTROL = re.compile(r"^\d{1,9}$")
_SET_ID = re.compile(r"^\d{3}$")
_SET_CONTROL = re.compile(r"^[!-~]{4,9}$")
_VERSION = re.compile(r"^00[4-8]0[1-7]0")  # GS08: 004010 ... 008070 (and 005010X...)
UNSUPPORTED_VERSION = "2"  # AK905


def read_interchange(text: str) -> Interchange:
    """The interchange in `text`, with every envelope problem recorded."""
    try:
        delimiters = read_delimiters(text)
    except SyntaxProblem as problem:
        unreadable = Interchange(control=_control_guess(text))
        unreadable.problems.add(problem.code, problem.reason)
        return unreadable
    segments, tail = split(text, delimiters)
    interchange = _header(segments[0], delimiters)
    assembler = _Assembler(interchange)
    for segment in segments[1:]:
        assembler.feed(segment)
    assembler.finish()
    if tail:
        interchange.problems.add("023", f"the file ends inside a segment: {tail[:20]!r}")
    return interchange


def _control_guess(text: str) -> str:
    guess = text[90:99]
    return guess if guess.isdigit() and len(guess) == 9 else "000000000"


def _header(isa: Segment, delimiters: Delimiters) -> Interchange:
    value = isa.element
    interchange = Interchange(
        control=value(13),
        sender_qualifier=value(5),
        sender=value(6).strip(),
        receiver_qualifier=value(7),
        receiver=value(8).strip(),
        date=value(9),
        time=value(10),
        version=value(12),
        usage=value(15),
        delimiters=delimiters,
    )
    for number, (pattern, code, what) in _ISA_FORMATS.items():
        if not re.match(pattern, value(number)):
            interchange.problems.add(code, f"ISA{number:02d} {what} {value(number)!r} is invalid")
    if parse_date(value(9)) is None:
        interchange.problems.add("014", f"ISA09 date {value(9)!r} is invalid")
    if parse_time(value(10)) is None:
        interchange.problems.add("015", f"ISA10 time {value(10)!r} is invalid")
    return interchange


class _Assembler:
    """Feeds segments into groups and sets, checking each trailer as it closes its envelope."""

    def __init__(self, interchange: Interchange) -> None:
        self.interchange = interchange
        self.group: Group | None = None
        self.set: TransactionSet | None = None
        self.closed = False

    def feed(self, segment: Segment) -> None:
        if self.closed:
            self._stray(segment, "after the IEA")
            return
        handler = {
            "GS": self._gs,
            "ST": self._st,
            "SE": self._se,
            "GE": self._ge,
            "IEA": self._iea,
        }.get(segment.tag, self._body)
        handler(segment)

    def finish(self) -> None:
        if not self.closed:
            self._close_group_unended()
            self.interchange.problems.add("023", "the IEA trailer is missing")

    def _stray(self, segment: Segment, where: str) -> None:
        self.interchange.problems.add("024", f"segment {segment.ordinal} ({segment.tag}) {where}")

    def _gs(self, segment: Segment) -> None:
        self._close_group_unended()
        group = Group(
            functional_id=segment.element(1),
            sender=segment.element(2),
            receiver=segment.element(3),
            control=segment.element(6),
            version=segment.element(8),
        )
        if not _GROUP_CONTROL.match(group.control):
            group.problems.add("6", f"GS06 control number {group.control!r} is invalid")
        if not _VERSION.match(group.version):
            group.problems.add(UNSUPPORTED_VERSION, f"GS08 version {group.version!r}")
        self.interchange.groups.append(group)
        self.group = group

    def _st(self, segment: Segment) -> None:
        if self.group is None:
            self._stray(segment, "outside a functional group")
            return
        self._close_set_unended()
        one = TransactionSet(id_code=segment.element(1), control=segment.element(2))
        if not _SET_ID.match(one.id_code):
            one.problems.add("6", f"ST01 transaction set id {one.id_code!r} is invalid")
        if not _SET_CONTROL.match(one.control):
            one.problems.add("7", f"ST02 control number {one.control!r} is invalid")
        if any(other.control == one.control for other in self.group.sets):
            one.problems.add("23", f"ST02 {one.control} is not unique in its group")
        self.group.sets.append(one)
        self.set = one

    def _body(self, segment: Segment) -> None:
        if self.set is None:
            self._stray(segment, "outside a transaction set")
            return
        self.set.body.append(segment)
        if not segment.well_formed:
            position = len(self.set.body) + 1
            reason = f"unrecognized segment id {segment.tag[:3]!r}"
            self.set.flag(SegmentProblem(segment.tag[:3], position, "1", reason))

    def _se(self, segment: Segment) -> None:
        one = self.set
        if one is None:
            self._stray(segment, "without its ST")
            return
        control, counted = segment.element(2), len(one.body) + 2
        if control != one.control:
            one.problems.add("3", f"SE02 {control!r} does not match ST02 {one.control!r}")
        if segment.element(1) != str(counted):
            one.problems.add(
                "4", f"SE01 says {segment.element(1)!r} segments, the set has {counted}"
            )
        self.set = None

    def _ge(self, segment: Segment) -> None:
        group = self.group
        if group is None:
            self._stray(segment, "without its GS")
            return
        self._close_set_unended()
        control, declared = segment.element(2), segment.element(1)
        if control != group.control:
            group.problems.add("4", f"GE02 {control!r} does not match GS06 {group.control!r}")
        if declared != str(len(group.sets)):
            group.problems.add(
                "5", f"GE01 says {declared!r} transaction sets, the group has {len(group.sets)}"
            )
        group.sets_declared = int(declared) if declared.isdigit() else None
        self.group = None

    def _iea(self, segment: Segment) -> None:
        self._close_group_unended()
        ours, control, declared = self.interchange, segment.element(2), segment.element(1)
        if control != ours.control:
            ours.problems.add("001", f"IEA02 {control!r} does not match ISA13 {ours.control!r}")
        if declared != str(len(ours.groups)):
            ours.problems.add(
                "021", f"IEA01 says {declared!r} groups, the interchange has {len(ours.groups)}"
            )
        self.closed = True

    def _close_set_unended(self) -> None:
        if self.set is not None:
            self.set.problems.add("2", "the SE trailer is missing")
            self.set = None

    def _close_group_unended(self) -> None:
        self._close_set_unended()
        if self.group is not None:
            self.group.problems.add("3", "the GE trailer is missing")
            self.group = None
